"""query3d_node as a real process over real DDS: bad input never kills it or corrupts
its state, and it keeps answering valid commands the same way."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from node_harness import start_node  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.demo import demo_commands  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _same_answer(a: dict, b: dict) -> bool:
    def key(r: dict) -> list:
        return sorted((t["label"], t["num_points"]) for t in r["targets"])
    return key(a) == key(b) and a["num_points"] == b["num_points"]


def test_bad_inputs_are_logged_and_the_node_keeps_answering(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    single = next(c for c in demo_commands(DEMO_SCENE_DIR, scene.scene_id) if c["kind"] == "st")
    # reliable clouds: a 1M-point message (16 MB) must not be lost to best-effort delivery
    procs, peer = start_node(tmp_path, points_qos="reliable")
    try:
        def fresh_frame() -> None:
            peer.publish_cloud(scene.points, scene.colors)
            peer.spin_until(lambda: False, 1.0)

        baseline = peer.ask(single["text"], timeout=240,
                            republish=lambda: peer.publish_cloud(scene.points, scene.colors))
        assert not baseline.get("error"), baseline
        # the start-up warm-up prepared the graph off the command path and said so
        assert peer.spin_until(lambda: "graph warm (torch)" in procs.log("node"), 30), \
            procs.log("node")[-2000:]

        def image_pair(encoding: str, fx: float) -> None:
            stamp = time.time()
            h = peer.header(stamp)
            K = np.array([[fx, 0, 80.0], [0, fx, 60.0], [0, 0, 1]])
            data = bytes(160 * 120 * 2) if encoding == "yuv422" else bytes(160 * 120 * 3)
            peer.publish_camera(h, data, encoding, K)

        cases = [
            ("empty cloud", lambda: peer.publish_cloud(np.zeros((0, 3), np.float32)),
             "no finite points among 0"),
            ("all-NaN cloud", lambda: peer.publish_cloud(np.full((500, 3), np.nan, np.float32)),
             "no finite points among 500"),
            ("unsupported encoding", lambda: image_pair("yuv422", 100.0),
             "unsupported image encoding 'yuv422'"),
            ("zero focal length", lambda: image_pair("rgb8", 0.0), "focal"),
            ("empty command", lambda: peer.command("   "), "ignored command: empty text"),
        ]
        for name, publish, expected_log in cases:
            publish()
            logged = peer.spin_until(lambda e=expected_log: e in procs.log("node"), 30)
            assert logged, f"{name}: node did not log {expected_log!r}"
            assert procs.alive("node"), f"node died after {name}"
            fresh_frame()
            answer = peer.ask(single["text"])
            assert _same_answer(answer, baseline), (name, answer, baseline)

        # a million points: the network sees its training density, every point is answered
        big = np.random.default_rng(0).uniform(-2, 2, size=(1_000_000, 3)).astype(np.float32)
        peer.publish_cloud(big)
        peer.spin_until(lambda: False, 5.0)
        answer = peer.ask(single["text"], timeout=240)
        assert answer["num_points"] == 1_000_000 and not answer.get("error")
        assert peer.spin_until(lambda: peer.masks and
                               peer.masks[-1].width * peer.masks[-1].height == 1_000_000, 30)
        assert procs.alive("node")

        # a 10,000-character command is cut, answered, and logged
        long_text = ("the red mug " * 834).strip()
        assert len(long_text) >= 10_000
        fresh_frame()
        answer = peer.ask(long_text)
        assert "using the first 2000" in procs.log("node") and procs.alive("node")

        fresh_frame()
        assert _same_answer(peer.ask(single["text"]), baseline)
    finally:
        peer.close()
        procs.stop()
