"""Commands as a manipulation pipeline sends them, to a real query3d_node process over
real DDS: the README's pipeline example (Segment service + FindObject action), commands
sent milliseconds apart, a cloud carried in the call, clearing, and bad command text."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("query3d_msgs")

from node_harness import call, start_node  # noqa: E402
from query3d_msgs.srv import Segment  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.conversions import numpy_to_cloud, read_structured  # noqa: E402
from query3d_ros.demo import demo_commands  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[4]
EXAMPLE = REPO / "examples" / "pipeline_client.py"
# fine-tuned until it memorised the demo scene's queries: answers whose targets are known
SCENE_FIT = Path(__file__).parent / "fixtures" / "demo_scene_fit.pt"


def test_the_readme_shows_the_pipeline_example_that_this_test_runs() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert EXAMPLE.read_text() in blocks, "README must include examples/pipeline_client.py"


def _raw_string(data: bytes) -> bytes:
    """A std_msgs/String as CDR bytes, as a C++ publisher sends a std::string with an
    embedded NUL (rclpy's own str conversion would cut it before sending)."""
    body = data + b"\x00"
    return b"\x00\x01\x00\x00" + struct.pack("<I", len(body)) + body


def test_pipeline_requests_over_dds(tmp_path: Path) -> None:
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    single = next(c for c in demo_commands(DEMO_SCENE_DIR, scene.scene_id)
                  if c["kind"] == "st")
    text, (object_id,) = single["text"], single["object_ids"]
    procs, peer = start_node(tmp_path, points_qos="reliable", warm_up=False,
                             checkpoint=str(SCENE_FIT))
    try:
        baseline = peer.ask(text, timeout=240,
                            republish=lambda: peer.publish_cloud(scene.points, scene.colors))
        assert not baseline["error"] and baseline["source"] == "topic", baseline
        assert len(baseline["targets"]) == 1, baseline
        # the typed answer points back into the source cloud: at the object the text means
        (obj,) = peer.typed[-1].objects
        on_target = scene.instance[np.asarray(obj.point_indices)] == object_id
        assert on_target.mean() > 0.5 and obj.points.width == len(obj.point_indices)
        # ... and so does the ~/output/objects cloud, through its index field
        assert peer.spin_until(lambda: peer.objects, 30)
        records = read_structured(peer.objects[-1])
        xyz = np.stack([records[c] for c in "xyz"], axis=-1).reshape(-1, 3)
        assert np.allclose(scene.points[records["index"].reshape(-1)], xyz)

        # the README's example, as its own process, against the running node
        done = subprocess.run([sys.executable, str(EXAMPLE), text], env=procs.env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr + procs.log("node")[-3000:]
        assert "find_object: success=True" in done.stdout, done.stdout
        assert re.search(r"feedback: (queued|running)", done.stdout), done.stdout
        labels = sorted(t["label"] for t in baseline["targets"])
        for label in labels:
            assert label in done.stdout, (labels, done.stdout)
        # each answer went out on ~/output/result too, with its own request id
        assert peer.spin_until(lambda: {"service", "action"} <= {r["source"] for r in
                                                               peer.results}, 30)
        ids = [r["request_id"] for r in peer.results]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), ids

        # three commands 5 ms apart: all three answered, in order, none lost
        seen = len(peer.results)
        sent = [f"{text} {i}" for i in range(3)]
        for command in sent:
            peer.command(command)
            peer.spin_until(lambda: False, 0.005)
        assert peer.spin_until(lambda: len(peer.results) >= seen + 3, 120), \
            procs.log("node")[-3000:]
        assert [r["command"] for r in peer.results[seen:seen + 3]] == sent

        # a Segment call that brings its own cloud is answered on that cloud: the scene's
        # points in another order, so the indices must refer to the call's cloud
        order = np.random.default_rng(0).permutation(len(scene.points))
        points = scene.points[order]
        header = peer.header()
        header.frame_id = "camera_link"
        client = peer.node.create_client(Segment, "/query3d_node/segment")
        own = call(peer, client, Segment.Request(
            command=text, cloud=numpy_to_cloud(header, points, scene.colors[order])))
        assert own.success and len(own.result.objects) == 1, own.message
        assert own.result.num_points == len(points) and own.result.header.frame_id == \
            "camera_link" and own.result.source == "service"
        (obj,) = own.result.objects
        indices = np.asarray(obj.point_indices)
        assert len(indices) == obj.points.width * obj.points.height > 0
        assert (scene.instance[order][indices] == object_id).mean() > 0.5
        assert obj.size.x > 0 and obj.size.y > 0 and obj.size.z > 0
        # a malformed cloud in the call is refused with the reason, nothing queued
        broken = numpy_to_cloud(header, points)
        broken.data = bytes(broken.data)[:100]
        refused = call(peer, client, Segment.Request(command=text, cloud=broken))
        assert not refused.success and "the request's cloud" in refused.message

        # an embedded NUL is refused with a log line, not run as the text before it
        nul_pub = peer.command_pub
        seen = len(peer.results)
        nul_pub.publish(_raw_string(b"the red\x00 mug"))
        assert peer.spin_until(lambda: "NUL character at position 7" in procs.log("node"), 30)
        assert not any(r["command"].startswith("the red") for r in peer.results[seen:])

        # clearing forgets the active command and says so
        clear = peer.node.create_client(Trigger, "/query3d_node/clear_command")
        cleared = call(peer, clear, Trigger.Request())
        assert cleared.success and cleared.message.startswith("cleared 1 command")

        # the node still gives the same answer as before all of this
        again = peer.ask(text, republish=lambda: peer.publish_cloud(scene.points, scene.colors))
        assert sorted(t["label"] for t in again["targets"]) == labels
        assert again["num_points"] == baseline["num_points"]
        assert procs.alive("node")
    finally:
        peer.close()
        procs.stop()
