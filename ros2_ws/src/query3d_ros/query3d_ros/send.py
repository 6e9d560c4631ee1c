"""``query3d_send "the red mug"``: publish one command, print the result it produced.

Publishes on the command topic with the node's command QoS (reliable, transient-local),
then waits for the node's JSON summary on ``~/result`` whose command matches. With
``--mask-out FILE.npz`` it also waits for the ``~/mask`` cloud carrying that result's stamp
and saves it (points, colours, per-point instance ids), so scripts and tests get the whole
answer from one process that speaks DDS with the same settings as the node.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from query3d_ros.conversions import cloud_to_numpy, read_structured
from query3d_ros.qos import COMMAND, RELIABLE

KEPT_MASKS = 8  # masks held while waiting for the matching result: recent frames only


def format_summary(summary: dict) -> str:
    lines = [f"command: {summary['command']!r}  latency: {summary['latency_ms']:.0f} ms  "
             f"points: {summary['num_points']}"]
    if not summary["targets"]:
        lines.append("  no target in the scene")
    for t in summary["targets"]:
        c = ", ".join(f"{v:.2f}" for v in t["box_center"])
        lines.append(f"  [{t['target_id']}] {t['label'] or '?':<10} score {t['score']:.2f}  "
                     f"{t['num_points']:>6} pts  centre ({c})")
    if summary.get("error"):
        lines.append(f"  error: {summary['error']}")
    return "\n".join(lines)


def stamp_key(stamp_seconds: float) -> float:
    return round(stamp_seconds, 6)


def mask_arrays(msg: PointCloud2) -> dict[str, np.ndarray]:
    """What a mask cloud says: points, colours (may be absent) and the instance field."""
    cloud = cloud_to_numpy(msg)
    records = read_structured(msg)
    if "instance" not in (records.dtype.names or ()):
        raise ValueError("mask cloud has no 'instance' field")
    out = {"points": cloud.points.reshape(-1, 3),
           "instance": np.asarray(records["instance"]).reshape(-1).astype(np.int64),
           "stamp": np.float64(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)}
    if cloud.colors is not None:
        out["colors"] = cloud.colors.reshape(-1, 3)
    return out


class CommandClient:
    """Sends one command and gathers the node's answer: the summary, optionally the mask."""

    def __init__(self, node: Node, command_topic: str, result_topic: str,
                 mask_topic: str | None) -> None:
        self.node = node
        self.results: list[dict] = []
        self.masks: dict[float, PointCloud2] = {}
        node.create_subscription(String, result_topic, self._on_result, RELIABLE)
        if mask_topic:
            node.create_subscription(PointCloud2, mask_topic, self._on_mask, RELIABLE)
        self.pub = node.create_publisher(String, command_topic, COMMAND)

    def _on_result(self, msg: String) -> None:
        self.results.append(json.loads(msg.data))

    def _on_mask(self, msg: PointCloud2) -> None:
        self.masks[stamp_key(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)] = msg
        while len(self.masks) > KEPT_MASKS:
            self.masks.pop(next(iter(self.masks)))

    def _spin_until(self, done, deadline: float) -> bool:
        while rclpy.ok() and time.monotonic() < deadline:
            if done():
                return True
            rclpy.spin_once(self.node, timeout_sec=0.1)
        return done()

    def send(self, command: str, timeout: float,
             want_mask: bool = False) -> tuple[dict | None, PointCloud2 | None]:
        self.pub.publish(String(data=command))
        deadline = time.monotonic() + timeout

        def summary() -> dict | None:
            return next((r for r in self.results if r.get("command") == command), None)

        if not self._spin_until(lambda: summary() is not None, deadline):
            return None, None
        found = summary()
        if not want_mask or found.get("error"):
            return found, None
        key = stamp_key(found.get("stamp", -1.0))
        # the mask is published with the result; allow DDS a moment even past the deadline
        self._spin_until(lambda: key in self.masks, max(deadline, time.monotonic() + 10.0))
        return found, self.masks.get(key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="query3d_send", description=__doc__.splitlines()[0])
    parser.add_argument("command", help="the text command, e.g. 'the red mug'")
    parser.add_argument("--command-topic", default="/query3d/command")
    parser.add_argument("--result-topic", default="/query3d_node/result")
    parser.add_argument("--mask-topic", default="/query3d_node/mask")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    parser.add_argument("--json", default=None, help="write the result summary here")
    parser.add_argument("--mask-out", default=None,
                        help="also wait for the result's mask cloud and save it (.npz)")
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=ros_args or None)
    node = Node("query3d_send")
    try:
        client = CommandClient(node, args.command_topic, args.result_topic,
                               args.mask_topic if args.mask_out else None)
        summary, mask = client.send(args.command, args.timeout, want_mask=bool(args.mask_out))
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if summary is None:
        print(f"no result for {args.command!r} within {args.timeout:.0f} s "
              f"(is query3d_node running and receiving clouds?)", file=sys.stderr)
        return 1
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if args.mask_out and not summary.get("error"):
        if mask is None:
            print(f"the result arrived but its mask cloud (stamp {summary['stamp']:.6f}) did "
                  f"not on {args.mask_topic}", file=sys.stderr)
            return 2
        np.savez_compressed(args.mask_out, **mask_arrays(mask))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
