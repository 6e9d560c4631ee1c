"""``query3d_send "the red mug"``: run one command, print the result it produced.

Calls the node's ``~/segment`` service and prints the typed answer (``--via-topic``:
publishes on the command topic instead and reads ``~/output/result``). With
``--mask-out FILE.npz`` it also waits for the ``~/output/mask`` cloud carrying that
result's stamp and saves it (points, colours, per-point instance ids), so scripts and
tests get the whole answer from one process that speaks DDS with the node's settings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from query3d_msgs.msg import QueryResult
from query3d_msgs.srv import Segment
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from query3d_ros.conversions import cloud_to_numpy, read_structured
from query3d_ros.qos import COMMAND, RELIABLE
from query3d_ros.results import stamp_seconds, summary

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
           "stamp": np.float64(stamp_seconds(msg.header))}
    if cloud.colors is not None:
        out["colors"] = cloud.colors.reshape(-1, 3)
    return out


class CommandClient:
    """Sends one command and gathers the node's answer: the typed result as a summary
    dict, optionally the ``~/output/mask`` cloud stamped like it.

    By default through the ``~/segment`` service (the answer is the call's own, matched
    by request); with ``command_topic`` set, published on the command topic like an
    operator would, then the first new ``~/output/result`` for that text is the answer."""

    def __init__(self, node: Node, service: str, result_topic: str, mask_topic: str | None,
                 command_topic: str | None = None) -> None:
        self.node = node
        self.results: list[QueryResult] = []
        self.masks: dict[float, PointCloud2] = {}
        if mask_topic:
            node.create_subscription(PointCloud2, mask_topic, self._on_mask, RELIABLE)
        self.pub = self.client = None
        if command_topic:
            node.create_subscription(QueryResult, result_topic, self.results.append, RELIABLE)
            self.pub = node.create_publisher(String, command_topic, COMMAND)
        else:
            self.client = node.create_client(Segment, service)

    def _on_mask(self, msg: PointCloud2) -> None:
        self.masks[stamp_key(stamp_seconds(msg.header))] = msg
        while len(self.masks) > KEPT_MASKS:
            self.masks.pop(next(iter(self.masks)))

    def _spin_until(self, done, deadline: float) -> bool:
        while rclpy.ok() and time.monotonic() < deadline:
            if done():
                return True
            rclpy.spin_once(self.node, timeout_sec=0.1)
        return done()

    def _ask(self, command: str, deadline: float) -> QueryResult | None:
        if self.pub is not None:
            seen = len(self.results)
            self.pub.publish(String(data=command))
            text = " ".join(command.split())
            found = lambda: next((r for r in self.results[seen:]  # noqa: E731
                                  if r.command == text), None)
            self._spin_until(lambda: found() is not None, deadline)
            return found()
        if not self.client.wait_for_service(timeout_sec=max(deadline - time.monotonic(), 0)):
            return None
        timeout = max(deadline - time.monotonic(), 0.1)
        future = self.client.call_async(Segment.Request(command=command, timeout=timeout))
        self._spin_until(future.done, deadline + 5.0)
        if not future.done():
            return None
        response = future.result()
        if not response.result.request_id:  # refused before it was queued
            print(f"query3d_send: the node refused {command!r}: {response.message}",
                  file=sys.stderr)
            return None
        return response.result

    def send(self, command: str, timeout: float,
             want_mask: bool = False) -> tuple[dict | None, PointCloud2 | None]:
        deadline = time.monotonic() + timeout
        msg = self._ask(command, deadline)
        if msg is None:
            return None, None
        found = summary(msg)
        if not want_mask or found.get("error"):
            return found, None
        key = stamp_key(found["stamp"])
        # the mask is published with the result; allow DDS a moment even past the deadline
        self._spin_until(lambda: key in self.masks, max(deadline, time.monotonic() + 10.0))
        return found, self.masks.get(key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="query3d_send", description=__doc__.splitlines()[0])
    parser.add_argument("command", help="the text command, e.g. 'the red mug'")
    parser.add_argument("--service", default="/query3d_node/segment")
    parser.add_argument("--via-topic", action="store_true",
                        help="publish on --command-topic instead of calling --service")
    parser.add_argument("--command-topic", default="/query3d/command")
    parser.add_argument("--result-topic", default="/query3d_node/output/result")
    parser.add_argument("--mask-topic", default="/query3d_node/output/mask")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    parser.add_argument("--json", default=None, help="write the result summary here")
    parser.add_argument("--mask-out", default=None,
                        help="also wait for the result's mask cloud and save it (.npz)")
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=ros_args or None)
    node = Node("query3d_send")
    try:
        client = CommandClient(node, args.service, args.result_topic,
                               args.mask_topic if args.mask_out else None,
                               args.command_topic if args.via_topic else None)
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
