"""query3d_node refuses invalid parameter values at start-up: one line per problem naming
the parameter, the value and the valid ones, and a non-zero exit (nothing half-starts)."""

from __future__ import annotations

import os
import subprocess

import pytest

pytest.importorskip("rclpy")

from query3d_ros.launcher import node_command, ros_env  # noqa: E402

pytestmark = [pytest.mark.ros]


def _start(params: dict, timeout: float = 60.0) -> subprocess.CompletedProcess:
    env = ros_env(120 + os.getpid() % 40)
    return subprocess.run(node_command(params), env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_misspelt_choice_stops_the_node_with_the_valid_ones() -> None:
    done = _start({"mode": "contnuous"})
    assert done.returncode == 2, done.stdout + done.stderr
    line = next(ln for ln in done.stderr.splitlines() if "'mode'" in ln)
    assert "'contnuous'" in line and "one of once, continuous" in line
    assert "model ready" not in done.stdout + done.stderr  # refused before loading anything


def test_every_bad_value_is_listed_and_unknown_names_are_refused() -> None:
    done = _start({"max_rate": -1.0, "score_threshold": 2.0, "max_point": 5})
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr
    assert "'max_rate': -1.0 is not valid; expected > 0" in err
    assert "'score_threshold': 2.0 is not valid" in err
    assert "'max_point' is not a query3d_node parameter" in err


def test_range_limits_that_contradict_each_other_stop_the_node() -> None:
    done = _start({"min_range": 5.0, "max_range": 2.0, "levelling": "sometimes"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'levelling': 'sometimes' is not valid; expected one of optical, always, never" \
        in done.stderr
    done = _start({"min_range": 5.0, "max_range": 2.0})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "range filter parameters: need 0 <= min_range < max_range" in done.stderr
