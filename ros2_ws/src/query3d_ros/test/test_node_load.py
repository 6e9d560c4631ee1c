"""Clouds at 30 Hz for 30 s while inference is slower: memory stays bounded (the node
keeps only the newest frame), latency is reported, nothing crashes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from node_harness import node_rss_mb, start_node  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_30hz_clouds_keep_memory_flat(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    procs, peer = start_node(tmp_path, mode="continuous", max_rate=5.0)
    pid = procs.children["node"].pid
    try:
        first = peer.ask("all the cups", timeout=240,  # model loaded and warm
                         republish=lambda: peer.publish_cloud(scene.points, scene.colors))
        assert not first.get("error"), first
        samples: list[tuple[float, float]] = []
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < 30.0:
            peer.publish_cloud(scene.points, scene.colors)
            sent += 1
            peer.executor.spin_once(timeout_sec=0.0)
            elapsed = time.monotonic() - start
            if not samples or elapsed - samples[-1][0] >= 2.0:
                samples.append((elapsed, node_rss_mb(pid)))
            time.sleep(max(0.0, sent / 30.0 - (time.monotonic() - start)))
        peer.spin_until(lambda: False, 2.0)
        assert procs.alive("node")
        runs = [r for r in peer.results if r["command"] == "all the cups"]
        assert len(runs) >= 3, "continuous mode did not keep re-running"
        assert all(r["latency_ms"] > 0 for r in runs)
        assert len(runs) < sent / 3, "inference ran on every frame instead of the newest"
        warm = [rss for t, rss in samples if t >= 8.0]
        growth = max(warm) - warm[0]
        print(f"\nsent {sent} clouds, {len(runs)} runs, node RSS {warm[0]:.0f} -> "
              f"{max(warm):.0f} MB, median latency "
              f"{sorted(r['latency_ms'] for r in runs)[len(runs) // 2]:.0f} ms")
        assert growth < 150.0, f"node memory grew {growth:.0f} MB under load: {samples}"
    finally:
        peer.close()
        procs.stop()
