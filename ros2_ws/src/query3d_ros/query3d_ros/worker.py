"""Inference off the ROS callback threads, with bounded memory.

Callbacks only hand over the newest frame and queue requests; one worker thread takes
them and runs the model. Only the newest frame is kept: a slow model never builds a
backlog of clouds, whatever the sensor rate. Requests wait in a bounded FIFO: a full
queue refuses the next one (the caller logs or answers that), nothing is dropped
silently. A request that arrives before any cloud waits for the first one, until its
deadline.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from query3d_ros.commands import QUEUED, WAITING_FOR_CLOUD, Request


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


RunFn = Callable[[Frame, Request], Any]
DoneFn = Callable[[Frame | None, Request, Any, BaseException | None, float], None]


class NoCloud(TimeoutError):
    """A request's deadline passed before any point cloud arrived."""


class InferenceWorker:
    """Runs ``run(frame, request)`` on a thread; reports every request through ``done``
    (with ``frame=None`` and a ``NoCloud`` error when its deadline passed first).

    ``mode='once'``: one run per request. ``mode='continuous'``: additionally re-run the
    last topic command on new frames, at most ``max_rate`` Hz, until it is cleared.
    """

    def __init__(self, run: RunFn, done: DoneFn, mode: str = "once", max_rate: float = 2.0,
                 queue_size: int = 8) -> None:
        self._run, self._done = run, done
        self.mode, self.max_rate = mode, max_rate
        self.queue_size = queue_size
        self._cv = threading.Condition()
        self._queue: deque[Request] = deque()
        self._frame: Frame | None = None
        self._frame_seq = 0
        self._served_seq = -1
        self._active: Request | None = None  # the topic command continuous mode repeats
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
            for r in self._queue:
                if r.state == WAITING_FOR_CLOUD:
                    r.state = QUEUED
            self._cv.notify()

    def submit(self, request: Request) -> bool:
        """Queue ``request``; False (and nothing queued) when the queue is full."""
        with self._cv:
            if len(self._queue) >= self.queue_size:
                return False
            if request.frame is None and self._frame is None:
                request.state = WAITING_FOR_CLOUD
            self._queue.append(request)
            self._cv.notify()
            return True

    def cancel(self, request: Request) -> bool:
        """Mark ``request`` cancelled; True when it was still queued (and is now gone). A
        run already started finishes; its ``done`` still comes, with the flag set."""
        with self._cv:
            request.cancelled = True
            if request in self._queue:
                self._queue.remove(request)
                return True
            return False

    def clear(self) -> list[Request]:
        """Forget the active command and drop the queued topic commands (service and
        action requests stay: their callers wait for them). Returns what was dropped."""
        with self._cv:
            dropped = [r for r in self._queue if r.source == "topic"]
            for r in dropped:
                self._queue.remove(r)
            if self._active is not None and self._active not in dropped:
                dropped.insert(0, self._active)
            self._active = None
            return dropped

    def drain(self) -> list[Request]:
        """Take every queued request out (the node answers them) and forget the active
        command: what deactivation does."""
        with self._cv:
            taken = list(self._queue)
            self._queue.clear()
            self._active = None
            return taken

    @property
    def command(self) -> str | None:
        active = self._active
        return None if active is None else active.text

    @property
    def has_frame(self) -> bool:
        return self._frame is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout)

    # -- worker thread --------------------------------------------------------------
    def _expired(self, now: float) -> list[Request]:
        """Queued requests still waiting for a first cloud past their deadline."""
        if self._frame is not None:
            return []
        gone = [r for r in self._queue if r.frame is None and r.deadline is not None
                and now >= r.deadline]
        for r in gone:
            self._queue.remove(r)
        return gone

    def _next(self, now: float) -> tuple[float | None, Request | None]:
        """(0, request) when a run is due now, (seconds, None) to wait, (None, None) idle."""
        runnable = next((r for r in self._queue if r.frame is not None
                         or self._frame is not None), None)
        if runnable is not None:
            return 0.0, runnable
        waits = [r.deadline - now for r in self._queue if r.deadline is not None]
        if self._queue:
            return (max(min(waits), 0.0) if waits else None), None
        if (self.mode == "continuous" and self._active is not None
                and self._frame is not None and self._frame.seq != self._served_seq):
            wait = self._last_run + 1.0 / max(self.max_rate, 1e-6) - now
            return (0.0, self._active) if wait <= 0 else (wait, None)
        return None, None

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    now = time.monotonic()
                    expired = self._expired(now)
                    if expired:
                        break
                    due, request = self._next(now)
                    if request is not None:
                        break
                    self._cv.wait(timeout=due)
                if self._stop:
                    return
                if not expired:
                    if request in self._queue:
                        self._queue.remove(request)
                    else:  # a continuous re-run: its timings start now
                        request.received = now
                    frame = request.frame if request.frame is not None else self._frame
                    if request.source == "topic":
                        self._active = request
                    if request.frame is None:
                        self._served_seq = frame.seq
                    self._last_run = now
                    self.busy = True
            for late in expired:
                self._done(None, late, None, NoCloud(
                    "no point cloud arrived before the request's timeout"), 0.0)
            if expired:
                continue
            request.started = time.monotonic()
            start = time.perf_counter()
            result, error = None, None
            try:
                result = self._run(frame, request)
            except Exception as exc:  # reported through diagnostics; the node keeps running
                error = exc
            latency = time.perf_counter() - start
            self.runs += 1
            self.busy = False
            self._done(frame, request, result, error, latency)
