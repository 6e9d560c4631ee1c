"""Fuzz over real DDS: a query3d_node process takes 1000+ seeded malformed messages on every
input (clouds, camera image + camera_info pairs, commands) from a peer process and stays
up; its other callbacks (diagnostics) keep running through it, its memory stays bounded,
SIGINT still stops it, and the next valid command gets the answer it got before."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
hypothesis = pytest.importorskip("hypothesis")

import fuzz_messages as fuzz  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from node_harness import TOPICS, node_rss_mb, start_node  # noqa: E402
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.demo import demo_commands  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402
from query3d_ros.results import stamp_seconds  # noqa: E402
from query3d_ros.send import stamp_key  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FUZZ_EXAMPLES = 1300  # each a cloud, a camera pair (2 messages) or a command; ~1700
# messages, so that >= MIN_DELIVERED reach the node even when best-effort queues drop some
# under a loaded machine (CI once delivered 994 of 1329)
MIN_DELIVERED = 1000  # messages the node must have taken (its own diagnostics count)
MAX_ROUNDS = 4  # seeded fuzz rounds at most, each FUZZ_EXAMPLES examples
RSS_GROWTH_MB = 250.0
# memorised the demo scene (configs/fixtures/demo_scene_fit.yaml): its answer has targets,
# so "the same answer" compares masks, not two empty results
SCENE_FIT = Path(__file__).parent / "fixtures" / "demo_scene_fit.pt"


def stalling_cloud() -> PointCloud2:
    """The issue's 117-byte message: a z field with count 2**32-1 (a per-count loop walks
    four billion sub-fields)."""
    msg = PointCloud2(height=1, width=1, point_step=16, row_step=16, is_dense=True,
                      data=bytes(16))
    msg.header.frame_id = "base_link"
    msg.fields = [PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
                  PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
                  PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=2**32 - 1)]
    return msg


def _same_answer(a: dict, b: dict) -> bool:
    def key(r: dict) -> list:
        return sorted((t["label"], t["num_points"]) for t in r["targets"])
    return key(a) == key(b) and a["num_points"] == b["num_points"]


def _taken(values: dict[str, str]) -> int:
    return (int(values.get("clouds_received", 0)) + 2 * int(values.get("images_received", 0))
            + int(values.get("commands_received", 0)))


class DiagnosticsLog:
    """Every /diagnostics status of the node, with its arrival time."""

    def __init__(self, peer) -> None:
        self.entries: list[tuple[float, dict[str, str], str]] = []
        peer.node.create_subscription(DiagnosticArray, TOPICS["diagnostics"], self._on, 50)

    def _on(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith("segmentation"):
                values = {kv.key: kv.value for kv in status.values}
                self.entries.append((time.monotonic(), values, status.message))

    def latest(self, key: str) -> int:
        return int(self.entries[-1][1][key]) if self.entries else 0

    def settled(self, seconds: float = 2.5) -> bool:
        """No input taken for ``seconds``: fuzz messages still in flight have arrived."""
        if not self.entries:
            return False
        now, count = time.monotonic(), self.delivered()
        older = [e for e in self.entries if now - e[0] >= seconds]
        if not older:
            return False
        return _taken(older[-1][1]) == count

    def delivered(self) -> int:
        """Messages the node took: clouds, commands, and two per paired image +
        camera_info (``images_received`` counts pairs)."""
        return _taken(self.entries[-1][1] if self.entries else {})


def test_fuzzed_inputs_never_stop_the_node(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    single = next(c for c in demo_commands(DEMO_SCENE_DIR, scene.scene_id) if c["kind"] == "st")
    procs, peer = start_node(tmp_path, checkpoint=str(SCENE_FIT), points_qos="reliable",
                             image_qos="reliable", image_wait=0.0)
    diagnostics = DiagnosticsLog(peer)
    pid = procs.children["node"].pid
    try:
        scene_stamps: set[float] = set()  # every publish of the scene, to know its answers

        def republish() -> None:
            header = peer.publish_cloud(scene.points, scene.colors)
            scene_stamps.add(stamp_key(stamp_seconds(header)))

        baseline = peer.ask(single["text"], timeout=240, republish=republish)
        assert not baseline.get("error") and baseline["targets"], baseline
        assert peer.spin_until(lambda: len(diagnostics.entries) >= 2, 30)
        rss_before = node_rss_mb(pid)
        delivered_before = diagnostics.delivered()
        rejected_before = diagnostics.latest("rejected_inputs")

        peer.cloud_pub.publish(stalling_cloud())
        assert peer.spin_until(lambda: "count 4294967295" in procs.log("node"), 20), \
            procs.log("node")[-2000:]

        published = {"points": 0, "camera": 0, "command": 0}
        fuzz_start = time.monotonic()
        message = st.one_of(fuzz.clouds.map(lambda m: ("points", m)),
                            fuzz.camera_pairs().map(lambda p: ("camera", p)),
                            fuzz.commands.map(lambda t: ("command", t)))

        def fuzz_round(round_seed: int) -> None:
            @seed(round_seed)
            @settings(max_examples=FUZZ_EXAMPLES, database=None, deadline=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
            @given(message)
            def send(item) -> None:
                kind, msg = item
                if kind == "points":
                    peer.cloud_pub.publish(msg)
                elif kind == "camera":
                    peer.image_pub.publish(msg[0])
                    peer.info_pub.publish(msg[1])
                else:
                    peer.command_pub.publish(String(data=msg))
                published[kind] += 1
                peer.executor.spin_once(timeout_sec=0.004)  # pace: the node's queues are short
            send()

        # a loaded machine drops more from the short queues (CI once took 795 of 1741 in one
        # round): send further seeded rounds until the node has taken MIN_DELIVERED
        for round_seed in range(13, 13 + MAX_ROUNDS):
            fuzz_round(round_seed)
            if peer.spin_until(
                    lambda: diagnostics.delivered() - delivered_before >= MIN_DELIVERED, 10):
                break
        sent = published["points"] + 2 * published["camera"] + published["command"]
        assert sent >= MIN_DELIVERED and min(published.values()) >= 50, published
        peer.spin_until(lambda: diagnostics.delivered() - delivered_before >= MIN_DELIVERED, 30)
        fuzz_end = time.monotonic()
        assert procs.alive("node"), procs.log("node")[-3000:]
        delivered = diagnostics.delivered() - delivered_before
        counts = {k: v for k, v in diagnostics.entries[-1][1].items() if k.endswith("received")}
        assert delivered >= MIN_DELIVERED, (delivered, published, counts)

        # the diagnostics timer ran all through the fuzz, reporting rejections as they came
        during = [t for t, _, _ in diagnostics.entries if fuzz_start <= t <= fuzz_end]
        assert len(during) >= (fuzz_end - fuzz_start) / 3, (len(during), fuzz_end - fuzz_start)
        gaps = [b - a for a, b in zip(during, during[1:])]
        assert max(gaps) < 5.0, max(gaps)
        # most fuzz messages are refused (a few clouds are odd but valid: they are frames)
        rejected = diagnostics.latest("rejected_inputs") - rejected_before
        refusable = delivered - int(counts["images_received"])  # one refusal per pair
        print(f"fuzz: published {published}, delivered {delivered} {counts}, "
              f"rejected {rejected}, {fuzz_end - fuzz_start:.1f} s")
        assert 0.5 * refusable <= rejected <= refusable + 1, (rejected, refusable)
        log = procs.log("node")
        assert "Traceback" not in log, log[-3000:]

        assert node_rss_mb(pid) - rss_before < RSS_GROWTH_MB
        # late fuzz clouds must not overtake the scene: wait until nothing more arrives.
        # A reliable fuzz cloud retransmitted on a loaded machine can still land after the
        # scene (CI once answered a fuzz frame stamped 2e-06), so an answer counts only
        # when its stamp is one of the scene's; the node answering the newest frame is right
        after = None
        for _ in range(3):
            assert peer.spin_until(diagnostics.settled, 60), diagnostics.entries[-1]
            clouds = diagnostics.latest("clouds_received")
            republish()  # the scene again, taken before the command (the fuzz left its frame)
            assert peer.spin_until(lambda c=clouds: diagnostics.latest("clouds_received") > c, 30)
            after = peer.ask(single["text"], timeout=120, republish=republish)
            if stamp_key(after["stamp"]) in scene_stamps:
                break
        assert stamp_key(after["stamp"]) in scene_stamps, (after["stamp"], after)
        assert _same_answer(after, baseline), (after, baseline)
    finally:
        peer.close()
        procs.stop()
    assert procs.children["node"].returncode == 0, procs.log("node")[-2000:]  # SIGINT
