"""Inference off the ROS callback threads, with bounded memory.

Callbacks only drop the newest frame or command into single slots; one worker thread
takes them and runs the model. Only the newest frame is kept: a slow model never builds
a queue, whatever the sensor rate. A command that arrives before any cloud waits for the
first one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    """One synchronised input set, already converted to numpy by the node."""

    header: Any  # std_msgs/Header of the cloud: every output carries it
    points: Any  # (N, 3) float32
    colors: Any = None  # (N, 3) float32 in [0, 1] or None
    organized_shape: tuple[int, int] | None = None
    received: float = field(default_factory=time.monotonic)
    seq: int = 0
    source_frame: str = ""  # the cloud's own frame_id (``header`` has the network's)
    placement: Any = None  # frames.Placement: how the points got into the network frame


RunFn = Callable[[Frame, str], Any]
DoneFn = Callable[[Frame, str, Any, BaseException | None, float], None]


class InferenceWorker:
    """Runs ``run(frame, command)`` on a thread; reports through ``done``.

    ``mode='once'``: a run per new command (on the newest frame, or the first frame to
    come). ``mode='continuous'``: additionally re-run on new frames while a command is
    active, at most ``max_rate`` Hz.
    """

    def __init__(self, run: RunFn, done: DoneFn, mode: str = "once",
                 max_rate: float = 2.0) -> None:
        self._run, self._done = run, done
        self.mode, self.max_rate = mode, max_rate
        self._cv = threading.Condition()
        self._frame: Frame | None = None
        self._frame_seq = 0
        self._served_seq = -1
        self._command: str | None = None
        self._command_pending = False
        self._last_run = 0.0
        self._stop = False
        self.busy = False
        self.runs = 0
        self._thread = threading.Thread(target=self._loop, name="query3d-inference",
                                        daemon=True)
        self._thread.start()

    # -- called from ROS callbacks (cheap, never block on inference) --------------
    def submit_frame(self, frame: Frame) -> None:
        with self._cv:
            self._frame_seq += 1
            frame.seq = self._frame_seq
            self._frame = frame  # the previous frame is dropped: bounded memory
            self._cv.notify()

    def submit_command(self, text: str) -> None:
        with self._cv:
            self._command = text
            self._command_pending = True
            self._cv.notify()

    def clear_command(self) -> None:
        with self._cv:
            self._command = None
            self._command_pending = False

    @property
    def command(self) -> str | None:
        return self._command

    @property
    def has_frame(self) -> bool:
        return self._frame is not None

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout)

    # -- worker thread --------------------------------------------------------------
    def _due(self) -> float | None:
        """0 if a run is due now, seconds to wait if one is due later, None if idle."""
        if self._frame is None or self._command is None:
            return None
        if self._command_pending:
            return 0.0
        if self.mode == "continuous" and self._frame.seq != self._served_seq:
            wait = self._last_run + 1.0 / max(self.max_rate, 1e-6) - time.monotonic()
            return max(wait, 0.0)
        return None

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    due = self._due()
                    if due == 0.0:
                        break
                    self._cv.wait(timeout=due)
                if self._stop:
                    return
                frame, command = self._frame, self._command
                self._command_pending = False
                self._served_seq = frame.seq
                self._last_run = time.monotonic()
                self.busy = True
            start = time.perf_counter()
            result, error = None, None
            try:
                result = self._run(frame, command)
            except Exception as exc:  # reported through diagnostics; the node keeps running
                error = exc
            latency = time.perf_counter() - start
            self.runs += 1
            self.busy = False
            self._done(frame, command, result, error, latency)
