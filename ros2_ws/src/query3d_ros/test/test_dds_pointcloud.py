"""Proves the pip ROS 2 install path: two processes exchange a PointCloud2 over DDS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

PEER = Path(__file__).with_name("dds_peer.py")


def test_pointcloud2_crosses_process_boundary(ros_domain_env: dict[str, str]) -> None:
    n = 5000
    sub = subprocess.Popen(
        [sys.executable, str(PEER), "sub", str(n)], env=ros_domain_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    pub = subprocess.Popen(
        [sys.executable, str(PEER), "pub", str(n)], env=ros_domain_env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = sub.communicate(timeout=60)
    finally:
        pub.terminate()
        pub.wait(timeout=10)
        if sub.poll() is None:
            sub.kill()
    assert sub.returncode == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    sent = np.arange(n * 3, dtype=np.float32) * np.float32(0.01)
    expected = float(sent.astype(np.float64).sum())
    assert got["frame_id"] == "camera_depth_optical_frame"
    assert got["stamp"] == [1234, 5678]
    assert got["width"] == n
    assert got["fields"] == ["x", "y", "z"]
    assert got["checksum"] == pytest.approx(expected, rel=1e-9)
    assert pub.pid != sub.pid and pub.pid != os.getpid()
