"""Commands as requests: checked text, a request id each, and where the answer goes.

Every command, whether it comes on ``~/input/command``, the ``~/segment`` service or the
``~/find_object`` action, becomes one ``Request`` with a node-unique id. The worker queues
requests (bounded); a command is answered, or refused with a log line that says why,
never silently dropped.

The command topic is transient-local, so a node that starts after the operator typed a
command still gets it. The flip side: after a restart the last command of a publisher that
is still alive is delivered again. ``ReplayGuard`` refuses those: a command is run only if
it was published after this node process started (DDS source timestamp) and was not
already taken (publisher + sequence number), so a deactivate/activate cycle does not run
it twice either. Commands from another machine need its clock in sync (as for every ROS
stamp).
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_COMMAND_CHARS = 2000  # longer commands are cut (the text encoder truncates anyway)

# FindObject feedback states (values of query3d_msgs/action/FindObject feedback constants)
QUEUED, WAITING_FOR_CLOUD, WAITING_FOR_CAMERA, RUNNING = 0, 1, 2, 3
STATE_NAMES = {QUEUED: "queued", WAITING_FOR_CLOUD: "waiting_for_cloud",
               WAITING_FOR_CAMERA: "waiting_for_camera", RUNNING: "running"}


class CommandRefused(ValueError):
    """The command text cannot be run; the message says why, in one line."""


def check_command(raw: str) -> tuple[str, str | None]:
    """(the text to run, a warning or None): the one rule for command text, whichever way
    it came (topic, service, action).

    Whitespace (spaces, tabs, newlines) collapses to single spaces; over
    ``MAX_COMMAND_CHARS`` the text is cut with a warning. Raises ``CommandRefused`` for
    empty text; for an embedded NUL (it would cut the command wherever a C string carries
    it); for any other control character (a terminal's escape codes, a C string's padding:
    cleaning them would run text nobody typed, such as the "[31m" of an ANSI colour code,
    so the sender is told instead); and for text with nothing printable in it."""
    nul = raw.find("\x00")
    if nul >= 0:
        raise CommandRefused(f"contains a NUL character at position {nul} (after "
                             f"{raw[:nul][:40]!r}); not run, since it would be cut there")
    text = " ".join(raw.split())
    if not text:
        raise CommandRefused("empty text")
    control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise CommandRefused(f"contains the control character {control!r} at position "
                             f"{text.index(control)}")
    if not any(unicodedata.category(c)[0] in "LMNPS" for c in text):
        raise CommandRefused(f"no printable text in {len(raw)} characters")
    warning = None
    if len(text) > MAX_COMMAND_CHARS:
        warning = (f"command has {len(text)} characters; using the first "
                   f"{MAX_COMMAND_CHARS}")
        text = text[:MAX_COMMAND_CHARS]
    return text, warning


def string_from_cdr(data: bytes) -> str:
    """The text of a serialized std_msgs/String, whole. The node takes commands raw
    because rclpy's conversion stops at the first NUL: a C++ publisher's std::string
    "the red\\0 mug" would arrive as "the red" and run as that. Raises
    ``CommandRefused`` for bytes that are not one CDR string of UTF-8."""
    if len(data) < 8 or data[0] != 0 or data[1] not in (0, 1):
        raise CommandRefused(f"not a serialized std_msgs/String ({len(data)} bytes)")
    order = "<" if data[1] == 1 else ">"  # encapsulation: CDR little / big endian
    (size,) = struct.unpack(order + "I", data[4:8])
    if size == 0 or 8 + size > len(data):
        raise CommandRefused(f"string length {size} does not fit its {len(data)} bytes")
    payload = data[8:8 + size]
    if payload[-1:] == b"\x00":
        payload = payload[:-1]
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandRefused(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@dataclass
class Request:
    """One command on its way through the node. ``frame``: the request's own cloud (a
    Segment call may bring one); else the newest cloud is used. ``on_done(answer)`` gets
    the typed result; ``state`` is what the action reports as feedback."""

    id: int
    text: str
    source: str  # "topic", "service" or "action"
    frame: Any = None
    deadline: float | None = None  # time.monotonic() after which waiting for a cloud fails
    on_done: Callable[[Any], None] | None = None
    received: float = field(default_factory=time.monotonic)
    state: int = QUEUED
    cancelled: bool = False
    started: float | None = None  # time.monotonic() its run started


class RequestIds:
    """Node-unique, increasing request ids (thread-safe)."""

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def new(self) -> int:
        with self._lock:
            return next(self._next)


def process_start_ns() -> int:
    """Wall-clock time (ns) this process was started, from /proc (Linux); now elsewhere.
    A command sent right after launching the node, while it still loads, is newer."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return int((boot + ticks / os.sysconf("SC_CLK_TCK")) * 1e9)
    except (OSError, ValueError, StopIteration, IndexError):
        return time.time_ns()


class ReplayGuard:
    """Refuses transient-local replays: commands published before ``started_ns`` (wall
    clock, ns) and commands already taken once (bounded memory of publisher + sequence)."""

    def __init__(self, started_ns: int, remember: int = 256) -> None:
        self.started_ns = started_ns
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._remember = remember

    def problem(self, info: dict) -> str | None:
        """None when the command is new; else why it is not run."""
        source_ns = int(info.get("source_timestamp") or 0)
        gid = info.get("publisher_gid")
        key = (repr(gid), info.get("publication_sequence_number"), source_ns)
        if key in self._seen:
            return "already taken once (delivered again after re-activation)"
        self._seen[key] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        if source_ns and source_ns < self.started_ns:
            age = (self.started_ns - source_ns) / 1e9
            return (f"published {age:.1f} s before this node started: a transient-local "
                    "replay of an earlier command (send it again to run it)")
        return None
