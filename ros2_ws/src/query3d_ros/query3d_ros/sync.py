"""Approximate-time pairing of cloud, image and camera_info: ``CloudCameraSync`` is the
node's one synchroniser.

An image and its camera_info are paired by stamp (``message_filters`` where installed,
else ``ApproximateTimeSync``, the same rule); the finished camera views wait in a short
history, and a cloud takes the view whose stamp is within ``slop`` of its own. Images are
larger than clouds and often arrive after them, so the run of a cloud may wait (on a
condition, not by polling) up to ``wait`` seconds for its view.

``message_filters.ApproximateTimeSynchronizer`` does this on robots that have it; pip
installs do not, so ``ApproximateTimeSync`` reproduces its matching rule on plain
(stamp, message) pairs, and ``make_synchronizer`` picks whichever is available behind
one interface.

Matching rule (as message_filters' Python implementation): each input keeps its newest
``queue_size`` messages keyed by stamp. A new message looks, in every other input, for
stamps within ``slop`` of its own, nearest first; the first combination whose spread
(newest - oldest) is within ``slop`` is emitted and removed from the queues. Two
deliberate differences: a spread exactly equal to ``slop`` matches (so ``slop=0`` pairs
exactly-equal stamps, which message_filters never does), and after a match every queued
message older than the emitted one on its input is dropped, as the C++ policy does, so
a late frame can never be paired backwards in time and memory stays bounded.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

try:  # present on robots with a full ROS install, absent from pip-only installs
    import message_filters as _message_filters
except ImportError:  # pragma: no cover - depends on the machine
    _message_filters = None

Callback = Callable[..., None]


def stamp_to_ns(stamp: Any) -> int:
    """Nanoseconds of a builtin_interfaces/Time (or an int already in nanoseconds)."""
    if isinstance(stamp, int):
        return stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class ApproximateTimeSync:
    """Thread-safe approximate-time synchroniser over ``num_inputs`` streams."""

    def __init__(self, num_inputs: int, queue_size: int, slop: float) -> None:
        if num_inputs < 1:
            raise ValueError(f"num_inputs must be >= 1, got {num_inputs}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if not slop >= 0.0:
            raise ValueError(f"slop must be >= 0 seconds, got {slop}")
        self.queue_size = int(queue_size)
        self.slop_ns = int(round(slop * 1e9))
        self._queues: list[dict[int, Any]] = [{} for _ in range(num_inputs)]
        self._callbacks: list[Callback] = []
        self._lock = threading.Lock()

    @property
    def num_inputs(self) -> int:
        return len(self._queues)

    def register_callback(self, callback: Callback) -> None:
        """``callback(*messages)`` runs for every matched set, in input order."""
        self._callbacks.append(callback)

    def queued(self) -> list[int]:
        """How many messages each input holds now (for diagnostics and tests)."""
        with self._lock:
            return [len(q) for q in self._queues]

    def add(self, index: int, stamp: Any, msg: Any) -> tuple | None:
        """Offer one message; returns (and signals) the matched set it completes, if any."""
        if not 0 <= index < len(self._queues):
            raise ValueError(f"input index {index} out of range 0..{len(self._queues) - 1}")
        stamp_ns = stamp_to_ns(stamp)
        with self._lock:
            matched = self._add_locked(index, stamp_ns, msg)
        if matched is not None:
            for callback in list(self._callbacks):
                callback(*matched)
        return matched

    def _add_locked(self, index: int, stamp_ns: int, msg: Any) -> tuple | None:
        own = self._queues[index]
        own[stamp_ns] = msg
        while len(own) > self.queue_size:
            del own[min(own)]
        candidates: list[list[int]] = []
        for i, queue in enumerate(self._queues):
            if i == index:
                candidates.append([stamp_ns])
                continue
            near = [s for s in queue if abs(s - stamp_ns) <= self.slop_ns]
            if not near:
                return None
            candidates.append(sorted(near, key=lambda s: (abs(s - stamp_ns), s)))
        for stamps in itertools.product(*candidates):
            if max(stamps) - min(stamps) <= self.slop_ns:
                matched = tuple(q.pop(s) for q, s in zip(self._queues, stamps))
                for queue, used in zip(self._queues, stamps):
                    for s in [s for s in queue if s < used]:
                        del queue[s]
                return matched
        return None


class Synchronizer:
    """Subscriptions plus a synchroniser; the node only calls ``register_callback``."""

    def __init__(self, node: Any, backend: str, subscriptions: list, synchronizer: Any) -> None:
        self.node = node
        self.backend = backend  # "message_filters" or "internal"
        self.subscriptions = subscriptions  # kept alive for as long as this object
        self.synchronizer = synchronizer

    def register_callback(self, callback: Callback) -> None:
        if self.backend == "message_filters":
            self.synchronizer.registerCallback(callback)
        else:
            self.synchronizer.register_callback(callback)

    def destroy(self) -> None:
        for sub in self.subscriptions:
            self.node.destroy_subscription(getattr(sub, "sub", sub))
        self.subscriptions = []


def make_synchronizer(
    node: Any,
    subscriptions: Sequence[tuple[type, str, Any]],
    slop: float,
    queue: int,
    use_message_filters: bool | None = None,
    callback_group: Any = None,
) -> Synchronizer:
    """Subscribe to ``(msg_type, topic, qos)`` triples and pair them by header stamp.

    ``use_message_filters=None`` uses message_filters where it imports; ``False`` forces
    the internal synchroniser (tests use it to exercise that path on full installs).
    """
    if len(subscriptions) < 1:
        raise ValueError("make_synchronizer needs at least one (msg_type, topic, qos)")
    use_library = use_message_filters
    if use_library is None:
        use_library = _message_filters is not None
    if use_library and _message_filters is None:
        raise ValueError("use_message_filters=True but message_filters is not installed")
    if use_library:
        subs = [
            _message_filters.Subscriber(node, msg_type, topic, qos_profile=qos,
                                        callback_group=callback_group)
            for msg_type, topic, qos in subscriptions
        ]
        sync = _message_filters.ApproximateTimeSynchronizer(subs, queue, slop)
        return Synchronizer(node, "message_filters", subs, sync)
    sync = ApproximateTimeSync(len(subscriptions), queue, slop)

    def on_message(index: int, msg: Any) -> None:
        sync.add(index, msg.header.stamp, msg)

    subs = [
        node.create_subscription(msg_type, topic, partial(on_message, i), qos,
                                 callback_group=callback_group)
        for i, (msg_type, topic, qos) in enumerate(subscriptions)
    ]
    return Synchronizer(node, "internal", subs, sync)


class CloudCameraSync:
    """Clouds meet their optional camera view. ``add_view`` is called by the image +
    camera_info synchroniser's callback; ``view_for`` by the inference thread. The
    history is bounded (``history`` views); nothing else is shared between threads."""

    def __init__(self, history: int = 10) -> None:
        if history < 1:
            raise ValueError(f"history must be >= 1, got {history}")
        self._views: deque[tuple[int, Any]] = deque(maxlen=history)
        self._arrived = threading.Condition()
        self.last_view_at: float | None = None  # time.monotonic() of the newest view

    def add_view(self, stamp: Any, view: Any, now: float) -> None:
        with self._arrived:
            self._views.append((stamp_to_ns(stamp), view))
            self.last_view_at = now
            self._arrived.notify_all()

    def _nearest(self, stamp_ns: int, slop_ns: int) -> Any | None:
        near = [(abs(s - stamp_ns), i) for i, (s, _) in enumerate(self._views)
                if abs(s - stamp_ns) <= slop_ns]
        return self._views[min(near)[1]][1] if near else None

    def view_for(self, stamp: Any, slop: float, wait: float = 0.0) -> Any | None:
        """The view within ``slop`` seconds of ``stamp`` (nearest first), waiting up to
        ``wait`` seconds for it to arrive; None if there is none."""
        stamp_ns, slop_ns = stamp_to_ns(stamp), int(round(slop * 1e9))
        with self._arrived:
            found = self._nearest(stamp_ns, slop_ns)
            if found is None and wait > 0:
                self._arrived.wait_for(
                    lambda: self._nearest(stamp_ns, slop_ns) is not None, timeout=wait)
                found = self._nearest(stamp_ns, slop_ns)
            return found
