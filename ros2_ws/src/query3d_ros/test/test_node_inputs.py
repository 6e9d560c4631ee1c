"""query3d_node as a real process over real DDS, on the input side: stamped latency,
diagnostics that fit on-demand use, a camera-frame cloud levelled (and said so), on the
topic and in a Segment call, and a publisher whose QoS cannot reach the node named in a
warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from node_harness import TOPICS, call, start_node  # noqa: E402
from query3d_msgs.msg import Timings  # noqa: E402
from query3d_msgs.srv import Segment  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from test_frames import OPTICAL_IN_BASE  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.conversions import numpy_to_cloud  # noqa: E402
from query3d_ros.demo import demo_commands  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402
from query3d_ros.qos import RELIABLE  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SCENE_FIT = Path(__file__).parent / "fixtures" / "demo_scene_fit.pt"
OPTICAL = "camera_depth_optical_frame"


def _node_status(msg: DiagnosticArray) -> DiagnosticStatus | None:
    return next((s for s in msg.status if s.name.endswith("segmentation")), None)


def test_inputs_frames_qos_and_on_demand_diagnostics(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    single = next(c for c in demo_commands(DEMO_SCENE_DIR, scene.scene_id) if c["kind"] == "st")
    procs, peer = start_node(tmp_path, checkpoint=str(SCENE_FIT), points_qos="reliable",
                             use_images=False, input_timeout=1.0, input_silence_warn=1.5,
                             warm_up=False)
    latency: list[Timings] = []
    statuses: list[DiagnosticStatus] = []
    peer.node.create_subscription(Timings, TOPICS["latency"], latency.append, RELIABLE)
    peer.node.create_subscription(
        DiagnosticArray, TOPICS["diagnostics"],
        lambda m: statuses.extend(s for s in [_node_status(m)] if s is not None), 10)
    try:
        sent = []

        def base_link_cloud() -> None:
            sent.append(peer.publish_cloud(scene.points, scene.colors))

        baseline = peer.ask(single["text"], timeout=240, republish=base_link_cloud)
        assert baseline["targets"] and baseline["frame_id"] == "base_link", baseline

        # ~/output/latency is stamped with the header of the cloud it measured and is the
        # same Timings as the answer's
        answer = next(m for m in reversed(peer.typed) if m.command == single["text"])
        assert peer.spin_until(lambda: any(t.request_id == answer.request_id
                                           for t in latency), 10)
        timing = next(t for t in latency if t.request_id == answer.request_id)
        stamp = timing.header.stamp
        assert timing.header.frame_id == "base_link"
        assert any((h.stamp.sec, h.stamp.nanosec) == (stamp.sec, stamp.nanosec) for h in sent)
        assert timing.header == answer.header and timing == answer.timings
        assert timing.inference_ms == pytest.approx(baseline["latency_ms"], rel=1e-3)
        assert 0.0 < timing.inference_ms <= timing.total_ms
        assert timing.cloud_age_ms > 0.0

        # mode once, answered, no cloud for > input_timeout: idle, not a permanent WARN
        seen = len(statuses)
        assert peer.spin_until(lambda: any(
            s.level == DiagnosticStatus.OK and "idle" in s.message
            for s in statuses[seen:]), 15), [s.message for s in statuses[-3:]]
        assert not any(s.level != DiagnosticStatus.OK for s in statuses[seen:][-2:]), \
            [s.message for s in statuses[-3:]]

        # the same scene from a camera's optical frame, no transform known: levelled
        optical = (scene.points.astype(np.float64) @ np.linalg.inv(OPTICAL_IN_BASE)[:3, :3].T
                   + np.linalg.inv(OPTICAL_IN_BASE)[:3, 3]).astype(np.float32)

        def optical_cloud() -> None:
            header = peer.header()
            header.frame_id = OPTICAL
            peer.cloud_pub.publish(numpy_to_cloud(header, optical, scene.colors))

        def clouds_received() -> int:
            return int({kv.key: kv.value for kv in statuses[-1].values}["clouds_received"])

        seen, before = len(statuses), clouds_received()
        optical_cloud()  # taken before the command, so the run is on it
        assert peer.spin_until(lambda: clouds_received() > before, 15)
        levelled = peer.ask(single["text"], timeout=120, republish=optical_cloud)
        assert levelled["frame_id"] == OPTICAL + "_levelled", levelled
        assert [t["label"] for t in levelled["targets"]] == \
            [t["label"] for t in baseline["targets"]], (levelled, baseline)
        for a, b in zip(levelled["targets"], baseline["targets"]):
            assert abs(a["num_points"] - b["num_points"]) <= 0.1 * b["num_points"], (a, b)
        assert "levelled on the estimated support plane" in procs.log("node")
        assert peer.spin_until(lambda: any(
            s.level == DiagnosticStatus.WARN and "condition.frame" in
            {kv.key for kv in s.values} for s in statuses[seen:]), 10)

        # a Segment call's own cloud is placed and range-filtered like a topic cloud
        client = peer.node.create_client(Segment, "/query3d_node/segment")
        header = peer.header()
        header.frame_id = OPTICAL
        own = call(peer, client, Segment.Request(
            command=single["text"], cloud=numpy_to_cloud(header, optical, scene.colors)))
        assert own.success and own.result.header.frame_id == OPTICAL + "_levelled", own.message
        assert [o.label for o in own.result.objects] == \
            [t["label"] for t in baseline["targets"]], own.result
        far = call(peer, client, Segment.Request(
            command=single["text"], cloud=numpy_to_cloud(peer.header(), scene.points + 1e3)))
        assert not far.success and "outside the range filter" in far.message, far.message

        # a best-effort publisher cannot reach the node's reliable subscription: named
        best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        wrong = peer.node.create_publisher(PointCloud2, TOPICS["points"], best_effort)
        for _ in range(5):
            wrong.publish(numpy_to_cloud(peer.header(), scene.points[:100]))
            peer.spin_until(lambda: False, 0.3)
        assert peer.spin_until(lambda: "incompatible QoS from" in procs.log("node"), 20), \
            procs.log("node")[-2000:]
        line = next(ln for ln in procs.log("node").splitlines() if "incompatible QoS from" in ln)
        assert TOPICS["points"] in line and "query3d_test_peer" in line and \
            "points_qos" in line, line
        assert peer.spin_until(lambda: any(
            "condition.input.points" in {kv.key for kv in s.values}
            for s in statuses[-2:]), 10)
        assert procs.alive("node")
    finally:
        peer.close()
        procs.stop()
