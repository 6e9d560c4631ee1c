"""Cloud-camera pairing in a real node over DDS: the image of a cloud usually arrives just
after the cloud (separate drivers, separate topics, and an image is larger). It must still
be paired with that cloud, even when the run has already started, and an image of another
moment must not be."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from node_harness import start_node  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_an_image_after_its_cloud_is_paired_and_another_is_not(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    # reliable inputs, as the demo uses: a best-effort image lost under load is not the
    # pairing's fault. image_wait leaves a wide margin over the 0.3 s late image below.
    procs, peer = start_node(tmp_path, points_qos="reliable", image_qos="reliable",
                             image_wait=1.5)
    K = np.array([[120.0, 0, 80.0], [0, 120.0, 60.0], [0, 0, 1]])
    rgb = np.full((120, 160, 3), 128, np.uint8)

    def cloud_then_image(image_offset_s: float, image_delay_s: float = 0.15):
        def publish() -> None:
            stamp = time.time()
            peer.publish_cloud(scene.points, scene.colors, stamp_s=stamp)
            peer.spin_until(lambda: False, image_delay_s)  # the cloud is in before its image
            h = peer.header(stamp + image_offset_s)
            peer.publish_camera(h, rgb.tobytes(), "rgb8", K)
            peer.spin_until(lambda: False, 0.15)
        return publish

    try:
        # the graphs are warm, so the command's run starts as soon as the first cloud is in,
        # 0.3 s before its image (which no earlier image announced): it waits (image_wait)
        end = time.monotonic() + 240
        while "camera graph warm" not in procs.log("node") and time.monotonic() < end:
            time.sleep(0.2)
        assert "camera graph warm" in procs.log("node"), procs.log("node")[-2000:]
        assert peer.spin_until(lambda: peer.image_pub.get_subscription_count() > 0, 30)
        late = peer.ask("the white cup", timeout=120,
                        republish=cloud_then_image(0.0, image_delay_s=0.3))
        assert not late.get("error"), late
        assert late["cameras"] == 1, late
        # an image 1 s away from every cloud is outside sync_slop (0.05 s): not paired
        far = cloud_then_image(1.0)
        for _ in range(3):  # the newest frame, which the next command runs on, is one of these
            far()
        other = peer.ask("the black cup", timeout=120, republish=far)
        assert not other.get("error"), other
        assert other["cameras"] == 0, other
        assert "no camera image within sync_slop" in procs.log("node")  # and diagnostics WARN
        assert "camera image(s)" in procs.log("node") and procs.alive("node")
    finally:
        peer.close()
        procs.stop()
