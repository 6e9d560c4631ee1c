"""Stopping: a SIGINT that shuts the context down while the executor makes its wait set
(rclpy's signal handler runs on another thread) is a clean stop, exit code 0; a wait-set
error on a live context is still raised."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy  # noqa: E402

from query3d_ros.spin import spin_until_shutdown  # noqa: E402


class ShutDownMidSpin(SingleThreadedExecutor):
    """The race's window, made certain: the context goes down after ``spin`` checked it
    and before the wait set is made."""

    def spin_once(self, timeout_sec: float | None = None) -> None:
        rclpy.shutdown(context=self.context)
        super().spin_once(timeout_sec)


def _node_on_its_own_context(name: str):
    context = Context()
    rclpy.init(context=context)
    return rclpy.create_node(name, context=context), context


def test_a_context_shut_down_while_spinning_is_a_clean_stop() -> None:
    # what rclpy itself does in that window: its executor raises
    probe, probe_context = _node_on_its_own_context("spin_race_probe")
    executor = ShutDownMidSpin(context=probe_context)
    executor.add_node(probe)
    with pytest.raises(_rclpy.RCLError, match="wait set"):
        executor.spin()
    probe.destroy_node()

    node, context = _node_on_its_own_context("spin_race")
    assert spin_until_shutdown(node, ShutDownMidSpin(context=context)) == 0
    assert not context.ok()


def test_a_wait_set_error_on_a_live_context_is_raised(monkeypatch) -> None:
    node, context = _node_on_its_own_context("spin_error")
    executor = SingleThreadedExecutor(context=context)

    def broken(timeout_sec=None):
        raise _rclpy.RCLError("failed to initialize wait set: something else")

    monkeypatch.setattr(executor, "spin_once", broken)
    with pytest.raises(_rclpy.RCLError, match="something else"):
        spin_until_shutdown(node, executor)
    assert not context.ok()  # cleaned up all the same
