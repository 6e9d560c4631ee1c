"""``ros2 launch query3d_ros bringup.launch.py`` for real, where ROS 2's launch tools are
installed (a robot or a ROS workspace with this package built and sourced). Pip-only
machines (ours, CI) have no ``launch_ros`` / ``ros2`` (DESIGN.md): there the test skips and
``test_params.py`` checks the launch file's structure instead."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("launch_ros", reason="launch_ros is not installed (pip-only ROS 2)")
rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from query3d_ros.launcher import ros_env  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_bringup_launch_starts_a_reporting_node(tmp_path: Path) -> None:
    ros2 = shutil.which("ros2")
    if ros2 is None:
        pytest.skip("the ros2 command is not on PATH (source the ROS 2 setup first)")
    domain = random.Random().randint(101, 199)
    log = (tmp_path / "launch.log").open("w")
    launch = subprocess.Popen(
        [ros2, "launch", "query3d_ros", "bringup.launch.py", "namespace:=q3d_launch_test",
         "backend:=torch", "use_rviz:=false"],
        env=ros_env(domain), stdout=log, stderr=subprocess.STDOUT)
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    names: set[str] = set()
    try:
        node = Node("query3d_launch_test_peer", context=context)
        node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: names.update(s.name for s in m.status), 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        end = time.monotonic() + 120
        while time.monotonic() < end and not any("q3d_launch_test" in n for n in names):
            assert launch.poll() is None, (tmp_path / "launch.log").read_text()[-3000:]
            executor.spin_once(timeout_sec=0.2)
        assert any("/q3d_launch_test/query3d_node" in n for n in names), (
            names, (tmp_path / "launch.log").read_text()[-3000:])
    finally:
        rclpy.shutdown(context=context)
        launch.send_signal(signal.SIGINT)
        try:
            launch.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launch.kill()
        log.close()
