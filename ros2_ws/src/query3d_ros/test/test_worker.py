"""Triggering semantics of the inference worker (pure threading, no ROS needed)."""

from __future__ import annotations

import threading
import time

from query3d_ros.commands import Request, RequestIds
from query3d_ros.worker import Frame, InferenceWorker, NoCloud

IDS = RequestIds()


def cmd(text: str, source: str = "topic", **kw) -> Request:
    return Request(IDS.new(), text, source, **kw)


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[int, str]] = []
        self.errors: list[BaseException] = []
        self.event = threading.Event()

    def run(self, frame: Frame, request: Request) -> int:
        time.sleep(self.delay)
        if request.text == "boom":
            raise RuntimeError("model failed")
        return frame.seq

    def done(self, frame, request, result, error, latency) -> None:
        self.calls.append((None if frame is None else frame.seq, request.text))
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
    assert worker.submit(cmd("the red mug"))
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
    assert worker.submit(cmd("a"))
    assert wait_for(lambda: len(rec.calls) == 1)
    worker.submit_frame(Frame(header=None, points=[]))
    time.sleep(0.2)
    assert rec.calls == [(3, "a")]  # new frames alone do not trigger in once mode
    assert worker.submit(cmd("b"))
    assert wait_for(lambda: rec.calls[-1] == (4, "b"))
    worker.stop()


def test_slow_model_keeps_only_newest_frame_and_respects_rate() -> None:
    rec = Recorder(delay=0.05)
    worker = InferenceWorker(rec.run, rec.done, mode="continuous", max_rate=5.0)
    assert worker.submit(cmd("boxes"))
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
    assert worker.submit(cmd("boom"))
    assert wait_for(lambda: len(rec.errors) == 1)
    assert worker.submit(cmd("fine"))
    assert wait_for(lambda: rec.calls[-1][1] == "fine")
    assert len(rec.errors) == 1
    worker.stop()


def test_commands_sent_ms_apart_are_all_answered_in_order() -> None:
    rec = Recorder(delay=0.05)
    worker = InferenceWorker(rec.run, rec.done, queue_size=8)
    worker.submit_frame(Frame(header=None, points=[]))
    for text in ("first", "second", "third"):
        assert worker.submit(cmd(text))
        time.sleep(0.005)
    assert wait_for(lambda: len(rec.calls) == 3)
    assert [c for _, c in rec.calls] == ["first", "second", "third"]
    worker.stop()


def test_a_full_queue_refuses_the_next_request_and_keeps_the_queued_ones() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done, queue_size=2)  # no cloud yet: all wait
    assert worker.submit(cmd("a")) and worker.submit(cmd("b"))
    assert not worker.submit(cmd("c"))
    assert worker.queued == 2
    worker.submit_frame(Frame(header=None, points=[]))
    assert wait_for(lambda: len(rec.calls) == 2)
    assert [c for _, c in rec.calls] == ["a", "b"]
    worker.stop()


def test_cancel_removes_a_queued_request_and_clear_drops_topic_commands() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done, mode="continuous", max_rate=50.0)
    goal, topic = cmd("goal", "action"), cmd("topic one")
    assert worker.submit(goal) and worker.submit(topic) and worker.submit(cmd("kept", "service"))
    assert worker.cancel(goal) and goal.cancelled
    assert [r.text for r in worker.clear()] == ["topic one"]
    worker.submit_frame(Frame(header=None, points=[]))
    assert wait_for(lambda: len(rec.calls) == 1)
    worker.submit_frame(Frame(header=None, points=[]))  # nothing active: no re-run
    time.sleep(0.2)
    assert rec.calls == [(1, "kept")]
    worker.stop()


def test_a_request_past_its_deadline_without_a_cloud_is_answered_with_no_cloud() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done)
    assert worker.submit(cmd("late", "service", deadline=time.monotonic() + 0.2))
    assert wait_for(lambda: len(rec.errors) == 1, timeout=3.0)
    assert rec.calls == [(None, "late")] and isinstance(rec.errors[0], NoCloud)
    worker.stop()


def test_a_request_with_its_own_cloud_runs_without_the_newest_one() -> None:
    rec = Recorder()
    worker = InferenceWorker(rec.run, rec.done)
    own = Frame(header=None, points=[], seq=-7)
    assert worker.submit(cmd("own", "service", frame=own))
    assert wait_for(lambda: rec.calls == [(-7, "own")])
    worker.stop()
