"""Semantic labels over real DDS: a class list on ~/input/classes, every point of the
newest cloud labelled on ~/output/semantic with a legend, both stamped like the cloud;
bad lists are refused without losing the active one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from node_harness import node_topic, start_node  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros import topics  # noqa: E402
from query3d_ros.conversions import read_structured  # noqa: E402
from query3d_ros.launcher import INPUT_REMAPS  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402
from query3d_ros.qos import COMMAND, RELIABLE  # noqa: E402
from query3d_ros.sync import stamp_to_ns  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_class_lists_label_clouds_over_dds(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    procs, peer = start_node(tmp_path, points_qos="reliable", warm_up=False)
    clouds: list[PointCloud2] = []
    legends: list[dict] = []
    problems: list[str] = []
    n = peer.node
    n.create_subscription(PointCloud2, node_topic(topics.OUTPUT_SEMANTIC), clouds.append,
                          RELIABLE)
    n.create_subscription(String, node_topic(topics.OUTPUT_SEMANTIC_LEGEND),
                          lambda m: legends.append(json.loads(m.data)), COMMAND)
    n.create_subscription(DiagnosticArray, "/diagnostics", lambda m: problems.extend(
        v.value for s in m.status for v in s.values if "class list" in v.value), 10)
    classes = n.create_publisher(String, INPUT_REMAPS[topics.INPUT_CLASSES], COMMAND)
    try:
        # the list comes before any cloud: it waits, and labels the first cloud that comes
        classes.publish(String(data="cup, apple, keyboard, table"))
        sent: set[int] = set()
        end = time.monotonic() + 240
        while not clouds and time.monotonic() < end:
            sent.add(stamp_to_ns(peer.publish_cloud(scene.points, scene.colors).stamp))
            peer.spin_until(lambda: bool(clouds), 2.0)
        assert clouds, procs.log("node")[-3000:]
        assert peer.spin_until(lambda: bool(legends), 30)
        msg, legend = clouds[-1], legends[-1]
        assert stamp_to_ns(msg.header.stamp) in sent  # stamped like its source cloud
        assert legend["stamp_ns"] == stamp_to_ns(msg.header.stamp)
        assert msg.header.frame_id == legend["frame_id"] == "base_link"
        records = read_structured(msg)
        labels = records["semantic"].reshape(-1)
        assert {f.name for f in msg.fields} >= {"x", "y", "z", "semantic", "semantic_score"}
        assert len(labels) == len(scene.points) and labels.min() >= 0 and labels.max() < 4
        assert np.allclose(np.stack([records[c] for c in "xyz"], -1).reshape(-1, 3),
                           scene.points)
        names = [c["name"] for c in legend["classes"]]
        assert names == ["cup", "apple", "keyboard", "table"]
        assert sum(c["points"] for c in legend["classes"]) == len(labels)
        table = scene.semantic == scene.class_names.index("table")
        assert np.mean(labels[table] == 3) > 0.9  # the table is the table
        keyboard = scene.semantic == scene.class_names.index("keyboard")
        assert np.mean(labels[keyboard] == 2) > 0.5

        # a bad list is refused and said; the active list keeps labelling new clouds.
        # Answers are matched by stamp: clouds sent while the node warmed up may still be
        # labelled, and a legend can trail its cloud.
        classes.publish(String(data="mug, mug"))
        assert peer.spin_until(lambda: any("more than once" in p for p in problems), 30), \
            procs.log("node")[-2000:]
        newest = stamp_to_ns(peer.publish_cloud(scene.points, scene.colors).stamp)
        assert peer.spin_until(lambda: any(g["stamp_ns"] == newest for g in legends), 120)
        assert [g for g in legends if g["stamp_ns"] == newest][0]["classes"][0]["name"] == "cup"

        # a new list relabels the newest cloud at once, no new cloud needed
        seen = len(legends)
        classes.publish(String(data="teacup, fruit, computer keyboard, desk"))

        def relabelled() -> list[dict]:
            return [g for g in legends[seen:] if g["classes"][0]["name"] == "teacup"]

        assert peer.spin_until(lambda: bool(relabelled()), 120)
        assert relabelled()[0]["stamp_ns"] == newest
        assert procs.alive("node"), procs.log("node")[-3000:]
    finally:
        peer.close()
        procs.stop()
