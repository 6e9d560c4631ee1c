"""End to end over real DDS: scene player, query3d_node and query3d_send as separate
processes, scored against the scene's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from query3d.bundled import DEMO_SCENE_DIR  # noqa: E402
from query3d_ros.demo import run_demo  # noqa: E402
from query3d_ros.play_scene import load_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

# The bundled checkpoint fine-tuned until it memorised the demo scene's queries
# (configs/fixtures/demo_scene_fit.yaml): a network whose right answers are known, so the
# test can demand them from what arrives over DDS.
SCENE_FIT = Path(__file__).parent / "fixtures" / "demo_scene_fit.pt"


def _check_plumbing(report: dict, out: Path) -> None:
    rows = {r["kind"]: r for r in report["commands"]}
    assert {"st", "mt", "zt"} <= set(rows), rows.keys()
    for row in report["commands"]:
        assert not row["error"], row
        assert row["stamp_is_source_cloud"], f"output stamp is not a source cloud's: {row}"
        assert row["mask_stamp_matches"], row
        # the scene streams its camera: every answer used the image of its cloud
        assert row["cameras"] == 1, row
        assert (out / row["png"]).stat().st_size > 10_000
        assert 0.0 <= row["iou"] <= 1.0  # scored against the scene's ground truth
        for t in row["targets"]:  # every published target is a real part of the cloud
            assert t["num_points"] >= 1 and all(s > 0 for s in t["box_size"])
    assert report["node_start_to_first_answer_s"] > 0.0  # measured from the node's log
    saved = json.loads((out / "summary.json").read_text())
    assert saved["commands"] == json.loads(json.dumps(report["commands"]))


def _published_instances(out: Path, i: int) -> np.ndarray:
    """The instance field of the ~/output/mask cloud that query3d_send received for command i."""
    with np.load(out / "logs" / f"mask_{i}.npz") as z:
        return z["instance"]


def test_bundled_checkpoint_answers_commands_from_separate_processes(tmp_path: Path) -> None:
    """Served with onnxruntime from a fresh graph cache: the first command is answered by
    torch while the graph exports in the background, never after waiting for it."""
    out = tmp_path / "demo_out"
    report = run_demo(out, backend="onnxruntime", timeout=240,
                      node_params={"onnx_cache_dir": str(tmp_path / "onnx")})
    _check_plumbing(report, out)
    node_log = (out / "logs" / "node.log").read_text()
    first = report["commands"][0]["command"]
    answered = node_log.index(f"'{first}': ")
    assert 0 <= node_log.find("in the background") < answered, node_log[-3000:]
    switched = node_log.find("now serving onnxruntime")
    assert switched == -1 or switched > answered, node_log[-3000:]
    assert "graph failed" not in node_log, node_log[-3000:]  # the export itself works
    # The bundled network's accuracy on the demo scene (README "Status": all 4 demo
    # commands now; the white cup among four cups is the closest call, scored 0.66 at 0.25):
    # the instruction's and the multi-target command's masks cover their targets (the four
    # cups in more than one target: two touching cups can share one mask), the absent
    # bottle gets silence, and at least 3 of the 4 are right however the white cup's
    # borderline mask falls.
    rows = {r["kind"]: r for r in report["commands"]}
    assert rows["zt"]["targets"] == [] and rows["zt"]["iou"] == 1.0, rows["zt"]
    assert rows["instruction"]["iou"] >= 0.5, rows["instruction"]
    assert rows["mt"]["iou"] >= 0.5 and len(rows["mt"]["targets"]) >= 2, rows["mt"]
    assert sum(r["iou"] >= 0.5 for r in report["commands"]) >= 3, report["commands"]


@pytest.mark.skipif(not SCENE_FIT.is_file(), reason=f"{SCENE_FIT} is not in this checkout")
def test_published_masks_are_the_networks_answers(tmp_path: Path) -> None:
    out = tmp_path / "demo_out"
    report = run_demo(out, checkpoint=str(SCENE_FIT), backend="torch", timeout=240)
    _check_plumbing(report, out)
    scene = load_scene(str(DEMO_SCENE_DIR), None, None)
    for i, row in enumerate(report["commands"]):
        expected = row["expected_object_ids"]
        published = _published_instances(out, i)
        assert len(published) == len(scene.instance)  # the mask covers the source cloud
        if not expected:  # zero-target: nothing published, and the GRES score is 1
            assert row["targets"] == [] and (published < 0).all() and row["iou"] == 1.0, row
            continue
        assert len(row["targets"]) == len(expected), (row["command"], row["targets"])
        assert row["iou"] >= 0.5, row
        for object_id in expected:  # every target object is one published instance
            truth = scene.instance == object_id
            best = max(((published == t["target_id"]) & truth).sum()
                       / ((published == t["target_id"]) | truth).sum() for t in row["targets"])
            assert best >= 0.5, (row["command"], object_id, best)
