"""A standalone rclpy peer for the DDS tests: ``pub`` sends a known PointCloud2 until
killed; ``sub`` waits for one and prints what arrived as JSON. Run as a separate process
so the test proves real inter-process DDS, not intra-process shortcuts."""

from __future__ import annotations

import json
import sys

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2, PointField

TOPIC = "/query3d_test/points"
QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


def make_cloud(node: Node, n: int) -> PointCloud2:
    xyz = np.arange(n * 3, dtype=np.float32).reshape(n, 3) * 0.01
    msg = PointCloud2()
    msg.header.frame_id = "camera_depth_optical_frame"
    msg.header.stamp.sec = 1234
    msg.header.stamp.nanosec = 5678
    msg.height, msg.width = 1, n
    msg.fields = [
        PointField(name=c, offset=4 * i, datatype=PointField.FLOAT32, count=1)
        for i, c in enumerate("xyz")
    ]
    msg.is_bigendian = False
    msg.point_step, msg.row_step = 12, 12 * n
    msg.is_dense = True
    msg.data = xyz.tobytes()
    return msg


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    rclpy.init()
    node = Node(f"query3d_test_{mode}")
    if mode == "pub":
        pub = node.create_publisher(PointCloud2, TOPIC, QOS)
        msg = make_cloud(node, n)
        node.create_timer(0.1, lambda: pub.publish(msg))
        rclpy.spin(node)
        return
    got: list[PointCloud2] = []
    node.create_subscription(PointCloud2, TOPIC, got.append, QOS)
    while rclpy.ok() and not got:
        rclpy.spin_once(node, timeout_sec=0.5)
    msg = got[0]
    xyz = np.frombuffer(bytes(msg.data), dtype=np.float32).reshape(-1, 3)
    print(json.dumps({
        "frame_id": msg.header.frame_id,
        "stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec],
        "width": msg.width,
        "fields": [f.name for f in msg.fields],
        "checksum": float(xyz.astype(np.float64).sum()),
    }), flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
