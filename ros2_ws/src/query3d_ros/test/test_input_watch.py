"""InputWatch over a real rclpy graph: a silent publisher is named, and the finding ends
as soon as the input delivers (not a second later, at the next check)."""

from __future__ import annotations

import random

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.context import Context  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from query3d_ros.input_watch import InputWatch, WatchedInput  # noqa: E402


@pytest.fixture
def node():
    context = Context()
    rclpy.init(context=context, domain_id=random.Random().randint(101, 199))
    node = rclpy.create_node("input_watch_test", context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def _watch(node, last: list[float | None], qos: QoSProfile):
    sub = node.create_subscription(String, "/watched", lambda _: None, qos)
    reports: list[tuple[str, str | None]] = []
    watched = WatchedInput("points", sub, qos, lambda: last[0], "points_qos", since=0.0)
    watch = InputWatch(node, [watched], lambda: 1.5, lambda k, m: reports.append((k, m)))
    return watch, reports


def test_a_silent_publisher_is_reported_until_a_message_arrives(node) -> None:
    reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    node.create_publisher(String, "/watched", reliable)
    last: list[float | None] = [None]
    watch, reports = _watch(node, last, reliable)
    watch.check(now=100.0)
    assert reports[-1][0] == "input.points"
    assert "1 publisher(s) on /watched but no message yet" in reports[-1][1]
    watch.forget_answered()  # nothing arrived since: the finding stands
    assert reports[-1][1] is not None
    last[0] = 100.5  # a message, before the next check
    watch.forget_answered()
    assert reports[-1] == ("input.points", None)
    watch.check(now=101.0)
    assert reports[-1] == ("input.points", None)
    watch.check(now=103.0)  # silent again for longer than 1.5 s
    assert "no message for 2.5 s" in reports[-1][1]


def test_an_incompatible_qos_is_named_with_the_parameter_that_fixes_it(node) -> None:
    node.create_publisher(String, "/watched",
                          QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    last: list[float | None] = [None]
    watch, reports = _watch(node, last,
                            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    watch.check(now=100.0)
    assert "incompatible QoS" in reports[-1][1] and "points_qos" in reports[-1][1]


def test_no_publisher_is_not_a_finding(node) -> None:
    last: list[float | None] = [None]
    watch, reports = _watch(node, last, QoSProfile(depth=1))
    watch.check(now=100.0)
    assert reports[-1] == ("input.points", None)
