"""Triggering semantics of the inference worker (pure threading, no ROS needed)."""

from __future__ import annotations

import threading
import time

from query3d_ros.worker import Frame, InferenceWorker


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[int, str]] = []
        self.errors: list[BaseException] = []
        self.event = threading.Event()

    def run(self, frame: Frame, command: str) -> int:
        time.sleep(self.delay)
        if command == "boom":
            raise RuntimeError("model failed")
        return frame.seq

    def done(self, frame, command, result, error, latency) -> None:
        self.calls.append((frame.seq, command))
        if error is not None:
            self.errors.append(error)
        self.event.set()


def wait_for(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_command_before_cloud_waits_for_first_cloud() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done)
    worker.submit_command("the red mug")
    time.sleep(0.2)
    assert rec.calls == []
    worker.submit_frame(Frame(header=None, points=[[0, 0, 0]]))
    assert wait_for(lambda: rec.calls == [(1, "the red mug")])
    worker.stop()


def test_once_mode_runs_per_command_on_newest_frame() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done, mode="once")
    for _ in range(3):
        worker.submit_frame(Frame(header=None, points=[]))
    worker.submit_command("a")
    assert wait_for(lambda: len(rec.calls) == 1)
    worker.submit_frame(Frame(header=None, points=[]))
    time.sleep(0.2)
    assert rec.calls == [(3, "a")]  # new frames alone do not trigger in once mode
    worker.submit_command("b")
    assert wait_for(lambda: rec.calls[-1] == (4, "b"))
    worker.stop()


def test_slow_model_keeps_only_newest_frame_and_respects_rate() -> None:
    rec = Recorder(delay=0.05)
    worker = InferenceWorker(rec.run, rec.done, mode="continuous", max_rate=5.0)
    worker.submit_command("boxes")
    start = time.monotonic()
    while time.monotonic() - start < 1.0:  # 200 Hz input, far faster than the model
        worker.submit_frame(Frame(header=None, points=[]))
        time.sleep(0.005)
    time.sleep(0.3)
    worker.stop()
    runs = len(rec.calls)
    assert 3 <= runs <= 8, runs  # ~5 Hz for ~1.3 s, never one run per frame
    seqs = [s for s, _ in rec.calls]
    assert seqs == sorted(seqs) and len(set(seqs)) == runs


def test_model_error_is_reported_and_worker_survives() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done)
    worker.submit_frame(Frame(header=None, points=[]))
    worker.submit_command("boom")
    assert wait_for(lambda: len(rec.errors) == 1)
    worker.submit_command("fine")
    assert wait_for(lambda: rec.calls[-1][1] == "fine")
    assert len(rec.errors) == 1
    worker.stop()
