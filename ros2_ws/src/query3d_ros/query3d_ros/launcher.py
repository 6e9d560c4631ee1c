"""Start the node, the scene player and command senders as separate processes on a
private ROS domain: shared by the demo and the end-to-end tests, so both exercise the
same real DDS path a robot uses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from query3d_ros import topics

# where a RealSense-style driver publishes, and the operator's command topic
INPUT_REMAPS = {
    topics.INPUT_POINTS: "/camera/depth/color/points",
    topics.INPUT_IMAGE: "/camera/color/image_raw",
    topics.INPUT_CAMERA_INFO: "/camera/color/camera_info",
    topics.INPUT_COMMAND: "/query3d/command",
    topics.INPUT_CLASSES: "/query3d/classes",
}


def ros_env(domain_id: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    return env


def executable(name: str) -> list[str]:
    """Console script next to this Python, else on PATH, else ``python -m``."""
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return [str(local)]
    found = shutil.which(name)
    if found:
        return [found]
    module = {"query3d_node": "node", "query3d_play_scene": "play_scene",
              "query3d_send": "send"}[name]
    return [sys.executable, "-m", f"query3d_ros.{module}"]


def _format(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(repr(float(v)) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def node_command(params: dict) -> list[str]:
    cmd = [*executable("query3d_node"), "--ros-args"]
    for key, value in params.items():
        cmd += ["-p", f"{key}:={_format(value)}"]
    for src, dst in INPUT_REMAPS.items():
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


class Processes:
    """Owns child processes; ``stop()`` ends them all (SIGINT first, as ros2 launch)."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.children: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - lives with the child
        proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.children[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self, name: str) -> bool:
        return self.children[name].poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        end = time.monotonic() + timeout
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(end - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
