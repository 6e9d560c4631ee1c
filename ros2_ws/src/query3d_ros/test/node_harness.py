"""Test harness: a real query3d_node process plus an rclpy peer in the test process,
on a private ROS domain. The peer publishes inputs and reads every output topic."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import rclpy
from query3d_msgs.msg import QueryResult
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header, String

from query3d_ros import topics
from query3d_ros.conversions import numpy_to_cloud
from query3d_ros.launcher import INPUT_REMAPS, Processes, node_command, ros_env
from query3d_ros.play_scene import camera_info
from query3d_ros.qos import COMMAND, RELIABLE
from query3d_ros.results import summary

NODE = "/query3d_node"


def node_topic(private: str) -> str:
    """``~/output/result`` -> ``/query3d_node/output/result`` (the node's full name)."""
    return NODE + private[1:]


# Every topic the tests use, by role: the one place to edit when topic names change.
TOPICS = {
    "points": INPUT_REMAPS[topics.INPUT_POINTS],
    "image": INPUT_REMAPS[topics.INPUT_IMAGE],
    "camera_info": INPUT_REMAPS[topics.INPUT_CAMERA_INFO],
    "command": INPUT_REMAPS[topics.INPUT_COMMAND],
    "result": node_topic(topics.OUTPUT_RESULT),
    "objects": node_topic(topics.OUTPUT_OBJECTS),
    "mask": node_topic(topics.OUTPUT_MASK),
    "latency": node_topic(topics.OUTPUT_LATENCY),
    "diagnostics": "/diagnostics",
}


class Peer:
    """Publishes clouds / images / commands like sensors and an operator would."""

    def __init__(self, domain: int) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node("query3d_test_peer", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        n = self.node
        self.cloud_pub = n.create_publisher(PointCloud2, TOPICS["points"], RELIABLE)
        self.image_pub = n.create_publisher(Image, TOPICS["image"], RELIABLE)
        self.info_pub = n.create_publisher(CameraInfo, TOPICS["camera_info"], RELIABLE)
        self.command_pub = n.create_publisher(String, TOPICS["command"], COMMAND)
        self.typed: list[QueryResult] = []  # every ~/output/result, as it came
        self.results: list[dict] = []  # the same, as ``results.summary`` dicts
        self.objects: list[PointCloud2] = []
        self.masks: list[PointCloud2] = []
        n.create_subscription(QueryResult, TOPICS["result"], self._on_result, RELIABLE)
        n.create_subscription(PointCloud2, TOPICS["objects"], self.objects.append, RELIABLE)
        n.create_subscription(PointCloud2, TOPICS["mask"], self.masks.append, RELIABLE)

    def _on_result(self, msg: QueryResult) -> None:
        self.typed.append(msg)
        self.results.append(summary(msg))

    def header(self, stamp_s: float | None = None) -> Header:
        h = Header(frame_id="base_link")
        t = time.time() if stamp_s is None else stamp_s
        h.stamp.sec, h.stamp.nanosec = int(t), int((t % 1) * 1e9)
        return h

    def publish_cloud(self, points: np.ndarray, colors: np.ndarray | None = None,
                      stamp_s: float | None = None) -> Header:
        header = self.header(stamp_s)
        self.cloud_pub.publish(numpy_to_cloud(header, points, colors))
        return header

    def publish_camera(self, header: Header, data: bytes, encoding: str, K: np.ndarray,
                       width: int = 160, height: int = 120) -> None:
        """An image and its camera_info, in that order (as CameraPublisher sends them)."""
        self.image_pub.publish(Image(header=header, height=height, width=width,
                                     encoding=encoding, step=len(data) // height, data=data))
        self.info_pub.publish(camera_info(header, K, width, height))

    def command(self, text: str) -> None:
        self.command_pub.publish(String(data=text))

    def spin_until(self, predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
            if predicate():
                return True
        return False

    def ask(self, text: str, timeout: float = 120.0, republish=None) -> dict:
        """Send a command and wait for its result (results of older runs are skipped).

        ``republish()`` runs every second while waiting: sensor data is best effort and
        volatile, so a cloud sent before the node subscribed is gone; a sensor keeps
        streaming, and so does the test.
        """
        seen = len(self.results)
        self.command(text)
        end = time.monotonic() + timeout
        ok = False
        while not ok and time.monotonic() < end:
            if republish is not None:
                republish()
            ok = self.spin_until(lambda: any(r["command"] == text[:2000]
                                             for r in self.results[seen:]), 1.0)
        assert ok, f"no result for {text[:60]!r} within {timeout} s"
        return next(r for r in self.results[seen:] if r["command"] == text[:2000])

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def call(peer: Peer, client, request, timeout: float = 120.0):
    """A service call from the peer, answered within ``timeout`` (asserted)."""
    assert client.wait_for_service(timeout_sec=30.0), f"{client.srv_name} is not offered"
    future = client.call_async(request)
    assert peer.spin_until(future.done, timeout), f"no answer from {client.srv_name}"
    return future.result()


def start_node(tmp: Path, **params) -> tuple[Processes, Peer]:
    domain = random.Random().randint(101, 199)
    procs = Processes(ros_env(domain), tmp / "logs")
    procs.start("node", node_command({"backend": "torch", **params}))
    peer = Peer(domain)
    return procs, peer


def node_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")
