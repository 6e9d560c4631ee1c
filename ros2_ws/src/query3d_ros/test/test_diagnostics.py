"""When the node's diagnostics say OK, WARN and ERROR (the rules of NodeHealth.status)."""

from __future__ import annotations

import pytest

pytest.importorskip("diagnostic_msgs")

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402

from query3d_ros.diagnostics import NodeHealth  # noqa: E402

TIMEOUT = 2.0


def _status(health: NodeHealth, now: float) -> DiagnosticStatus:
    return health.status("query3d_node: segmentation", "query3d", TIMEOUT, now=now)


def _values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def _ready(now: float) -> NodeHealth:
    health = NodeHealth(backend="torch", model_ok=True)
    health.clouds.tick(now)
    return health


def test_model_that_cannot_run_is_an_error_whatever_the_inputs() -> None:
    health = NodeHealth(model_ok=False, model_error="checkpoint is corrupt")
    health.clouds.tick(100.0)
    status = _status(health, 100.1)
    assert status.level == DiagnosticStatus.ERROR
    assert "checkpoint is corrupt" in status.message


def test_missing_and_stale_clouds_warn_and_fresh_ones_are_ok() -> None:
    health = NodeHealth(model_ok=True)
    assert _status(health, 10.0).level == DiagnosticStatus.WARN
    assert "no point cloud received yet" in _status(health, 10.0).message
    health.clouds.tick(10.0)
    assert _status(health, 10.5).level == DiagnosticStatus.OK
    stale = _status(health, 10.0 + TIMEOUT + 0.5)
    assert stale.level == DiagnosticStatus.WARN and "no point cloud for 2.5 s" in stale.message
    assert _values(stale)["time_since_last_cloud_s"] == "2.50"


def test_a_sync_failure_warns_for_input_timeout_and_is_counted(monkeypatch) -> None:
    health = _ready(50.0)
    monkeypatch.setattr("query3d_ros.diagnostics.time.monotonic", lambda: 50.0)
    health.sync_failed("no camera image within image_wait of the cloud")
    health.sync_failed("no camera image within image_wait of the cloud")
    warn = _status(health, 50.5)
    assert warn.level == DiagnosticStatus.WARN
    assert "no camera image" in warn.message
    assert _values(warn)["sync_failures"] == "2"
    health.clouds.tick(50.0 + TIMEOUT + 0.5)  # inputs keep flowing, pairing recovered
    later = _status(health, 50.0 + TIMEOUT + 0.6)
    assert later.level == DiagnosticStatus.OK
    assert _values(later)["sync_failures"] == "2"  # the count stays for the record


def test_on_demand_use_is_idle_not_stale() -> None:
    """mode once with no command waiting: a sensor that publishes only when asked is idle,
    so diagnostics stay OK long after the last cloud, and WARN again once a run waits."""
    health = _ready(10.0)
    idle = health.status("n", "q", TIMEOUT, now=10.0 + 60.0, expect_clouds=False)
    assert idle.level == DiagnosticStatus.OK and "idle" in idle.message
    assert _values(idle)["time_since_last_cloud_s"] == "60.00"
    never = NodeHealth(model_ok=True).status("n", "q", TIMEOUT, now=5.0, expect_clouds=False)
    assert never.level == DiagnosticStatus.OK
    waiting = health.status("n", "q", TIMEOUT, now=10.0 + 60.0, expect_clouds=True)
    assert waiting.level == DiagnosticStatus.WARN and "no point cloud for 60.0 s" in \
        waiting.message


def test_a_standing_condition_warns_until_cleared_and_is_listed() -> None:
    health = _ready(20.0)
    health.set_condition("frame", "cloud levelled on its support plane", now=20.0)
    warn = _status(health, 20.1)
    assert warn.level == DiagnosticStatus.WARN and "levelled" in warn.message
    assert _values(warn)["condition.frame"] == "cloud levelled on its support plane"
    still = health.status("n", "q", TIMEOUT, now=100.0, expect_clouds=False)
    assert still.level == DiagnosticStatus.WARN  # a condition holds until it is cleared
    health.set_condition("frame", None)
    assert health.status("n", "q", TIMEOUT, now=100.0, expect_clouds=False).level == \
        DiagnosticStatus.OK
