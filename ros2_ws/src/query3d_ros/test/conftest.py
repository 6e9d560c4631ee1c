"""Shared fixtures for the node package's tests."""

from __future__ import annotations

import os
import random

import pytest


@pytest.fixture
def ros_domain_env() -> dict[str, str]:
    """Environment for child ROS processes on a domain of their own, so parallel test
    runs (or a robot on the same network) never see each other's topics."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(random.Random(os.getpid()).randint(100, 200))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env["PYTHONUNBUFFERED"] = "1"
    return env
