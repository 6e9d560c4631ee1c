"""Health of the node as diagnostic_msgs: input rates, staleness, latency, errors.

Kept apart from the node so its rules (when to WARN, when to ERROR) read in one place.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


class RateMeter:
    """Messages per second over a sliding window of arrival times."""

    def __init__(self, window_s: float = 5.0, max_events: int = 1000) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque(maxlen=max_events)
        self.total = 0  # messages since start (a rate hides how many arrived)

    def tick(self, now: float | None = None) -> None:
        self.total += 1
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        # tuple(): one C-level copy, so a tick from another callback thread cannot
        # mutate the deque while it is being read
        recent = [t for t in tuple(self._times) if now - t <= self.window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    @property
    def last(self) -> float | None:
        times = self._times
        try:
            return times[-1]
        except IndexError:
            return None


@dataclass
class NodeHealth:
    backend: str = "unknown"
    model_ok: bool = False
    model_error: str = ""
    last_error: str = ""
    last_error_time: float | None = None
    last_latency_ms: float | None = None
    sync_failures: int = 0
    rejected_inputs: int = 0
    clouds: RateMeter = field(default_factory=RateMeter)
    images: RateMeter = field(default_factory=RateMeter)
    commands: RateMeter = field(default_factory=RateMeter)
    # standing conditions (frame guessed, QoS mismatch, ...) by topic: (message, since)
    conditions: dict[str, tuple[str, float]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)  # extra key-values to report

    def set_condition(self, key: str, message: str | None,
                      now: float | None = None) -> None:
        """``message`` WARNs under ``key`` until cleared with None (a condition that
        holds, not an event: a levelled frame, a silent publisher)."""
        if message is None:
            self.conditions.pop(key, None)
        else:
            self.conditions[key] = (message, time.monotonic() if now is None else now)

    def error(self, message: str) -> None:
        self.last_error = message
        self.last_error_time = time.monotonic()

    def sync_failed(self, message: str) -> None:
        """A camera publishes but a cloud ran without its image: WARN for a while."""
        self.sync_failures += 1
        self.error(message)

    def status(self, name: str, hardware_id: str, input_timeout: float,
               now: float | None = None, expect_clouds: bool = True) -> DiagnosticStatus:
        """ERROR when the model cannot run; WARN when expected inputs stop, a standing
        condition holds, pairing fails or an input was just rejected; OK otherwise.

        ``expect_clouds`` is False for on-demand use (mode once, no command waiting): a
        sensor that publishes only when asked is then idle, not stale."""
        now = time.monotonic() if now is None else now
        # copies (single C-level operations): input callbacks update these concurrently
        conditions, facts, last_cloud = dict(self.conditions), dict(self.facts), self.clouds.last
        since_cloud = None if last_cloud is None else now - last_cloud
        level, message = DiagnosticStatus.OK, "running"
        if not self.model_ok:
            level, message = DiagnosticStatus.ERROR, f"model cannot run: {self.model_error}"
        elif since_cloud is None and expect_clouds:
            level, message = DiagnosticStatus.WARN, "no point cloud received yet"
        elif since_cloud is not None and since_cloud > input_timeout and expect_clouds:
            level, message = DiagnosticStatus.WARN, f"no point cloud for {since_cloud:.1f} s"
        elif conditions:
            level = DiagnosticStatus.WARN
            message = "; ".join(text for text, _ in conditions.values())
        elif self.last_error_time is not None and now - self.last_error_time < input_timeout:
            level, message = DiagnosticStatus.WARN, self.last_error
        elif not expect_clouds:
            message = "idle: ready for a command"
        values = {
            "backend": self.backend,
            "cloud_rate_hz": f"{self.clouds.rate(now):.2f}",
            "image_rate_hz": f"{self.images.rate(now):.2f}",
            "time_since_last_cloud_s": "never" if since_cloud is None else f"{since_cloud:.2f}",
            "last_latency_ms": "n/a" if self.last_latency_ms is None
            else f"{self.last_latency_ms:.1f}",
            "clouds_received": str(self.clouds.total),
            "images_received": str(self.images.total),
            "commands_received": str(self.commands.total),
            "sync_failures": str(self.sync_failures),
            "rejected_inputs": str(self.rejected_inputs),
            "last_error": self.last_error or "none",
            **facts,
            **{f"condition.{key}": text for key, (text, _) in conditions.items()},
        }
        return DiagnosticStatus(
            level=level, name=name, message=message, hardware_id=hardware_id,
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )


def diagnostic_array(stamp, status: DiagnosticStatus) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = [status]
    return msg
