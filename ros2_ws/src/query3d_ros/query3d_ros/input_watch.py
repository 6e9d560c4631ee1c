"""Say why an input is silent: publishers exist on its topic but no message arrives.

The top complaint of a new user is a node that "receives nothing" while the driver runs:
usually the driver offers best-effort and the subscription asks for reliable (DDS never
connects them), or multi-MB best-effort messages are lost on the way. Every check the
watch compares each publisher's QoS (``get_publishers_info_by_topic``) with the
subscription's (``qos_check_compatible``) and names the policy that differs, so the fix
(``points_qos:=...``) is in the warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rclpy.qos import QoSCompatibility, QoSProfile, qos_check_compatible


@dataclass
class WatchedInput:
    """One input subscription and when it last delivered a message."""

    key: str  # e.g. "points": the diagnostics condition key and the QoS parameter's stem
    subscription: Any  # rclpy Subscription (or message_filters.Subscriber)
    qos: QoSProfile
    last_message: Callable[[], float | None]  # time.monotonic() of the newest, or None
    qos_parameter: str | None = None  # the node parameter that sets this QoS
    since: float = field(default_factory=time.monotonic)  # grace for a first message


def _topic(subscription: Any) -> str:
    return getattr(subscription, "sub", subscription).topic_name


def silence_report(node: Any, watched: WatchedInput, silence_s: float, now: float,
                   expecting: bool = True) -> str | None:
    """None while the input is fine (no publisher, or messages flowing), else why not.

    Only a definite mismatch (``QoSCompatibility.ERROR``) is named: a WARNING verdict
    means one side left a policy at the system default and usually connects. A silent
    publisher with a compatible QoS is reported only while messages are ``expecting``
    (on demand, a sensor that publishes when asked is idle, not broken)."""
    last = watched.last_message()
    quiet_for = None if last is None else now - last
    if quiet_for is not None and quiet_for <= silence_s:
        return None
    if last is None and now - watched.since <= silence_s:
        return None  # just subscribed: give the publisher time for its first message
    topic = _topic(watched.subscription)
    publishers = node.get_publishers_info_by_topic(topic)
    if not publishers:
        return None
    mismatches = []
    for info in publishers:
        verdict, reason = qos_check_compatible(info.qos_profile, watched.qos)
        if verdict == QoSCompatibility.ERROR:
            mismatches.append(f"'{info.node_namespace.rstrip('/')}/{info.node_name}' "
                              f"({reason.strip().rstrip(';')})")
    silent = "no message yet" if last is None else f"no message for {quiet_for:.1f} s"
    text = f"{len(publishers)} publisher(s) on {topic} but {silent}"
    if mismatches:
        fix = (f"; set {watched.qos_parameter} to match the publisher (sensor_data = best "
               "effort, reliable)") if watched.qos_parameter else ""
        return f"{text}: incompatible QoS from {', '.join(mismatches)}{fix}"
    if not expecting:
        return None
    return (f"{text} though the QoS is compatible: large best-effort messages may be lost "
            "(see the README's QoS section) or the publisher is idle")


class InputWatch:
    """Checks every watched input on the node's timer and reports through ``report``
    (``report(key, message_or_None)``), logging each new finding once."""

    def __init__(self, node: Any, inputs: list[WatchedInput], silence_s: Callable[[], float],
                 report: Callable[[str, str | None], None],
                 expecting: Callable[[], bool] = lambda: True) -> None:
        self.node, self.inputs, self.silence_s, self.report = node, inputs, silence_s, report
        self.expecting = expecting
        self._said: dict[str, str | None] = {}
        self._last_seen: dict[str, float | None] = {}  # each input's newest, at its check

    def check(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for watched in self.inputs:
            try:
                finding = silence_report(self.node, watched, self.silence_s(), now,
                                         self.expecting())
            except Exception as exc:  # a graph query failing must not stop the timer
                finding = f"cannot inspect the publishers of input {watched.key}: {exc}"
            key = f"input.{watched.key}"
            if finding != self._said.get(key) and finding is not None:
                self.node.get_logger().warning(finding)
            self._said[key] = finding
            self._last_seen[key] = watched.last_message()
            self.report(key, finding)

    def forget_answered(self) -> None:
        """Clear each finding whose input has delivered since it was made. Run before
        each diagnostics status: the check runs once a second, and a status between a
        cloud's arrival and the next check would still say "no message yet"."""
        for watched in self.inputs:
            key = f"input.{watched.key}"
            if (self._said.get(key) is not None
                    and watched.last_message() != self._last_seen.get(key)):
                self._said[key] = None
                self.report(key, None)
