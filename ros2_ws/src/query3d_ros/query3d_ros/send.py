"""``query3d_send "the red mug"``: publish one command, print the result it produced.

Publishes on the command topic with the node's command QoS (reliable, transient-local),
then waits for the node's JSON summary on ``~/result`` whose command matches.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy
from rclpy.node import Node
from std_msgs.msg import String

from query3d_ros.qos import COMMAND, RELIABLE


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


def send_and_wait(node: Node, command: str, command_topic: str, result_topic: str,
                  timeout: float) -> dict | None:
    got: list[dict] = []

    def on_result(msg: String) -> None:
        data = json.loads(msg.data)
        if data.get("command") == command:
            got.append(data)

    node.create_subscription(String, result_topic, on_result, RELIABLE)
    pub = node.create_publisher(String, command_topic, COMMAND)
    pub.publish(String(data=command))
    end = time.monotonic() + timeout
    while rclpy.ok() and not got and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    return got[0] if got else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="query3d_send", description=__doc__.splitlines()[0])
    parser.add_argument("command", help="the text command, e.g. 'the red mug'")
    parser.add_argument("--command-topic", default="/query3d/command")
    parser.add_argument("--result-topic", default="/query3d_node/result")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    parser.add_argument("--json", default=None, help="write the result summary here")
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=ros_args or None)
    node = Node("query3d_send")
    try:
        summary = send_and_wait(node, args.command, args.command_topic, args.result_topic,
                                args.timeout)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if summary is None:
        print(f"no result for {args.command!r} within {args.timeout:.0f} s "
              f"(is query3d_node running and receiving clouds?)", file=sys.stderr)
        return 1
    print(format_summary(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
