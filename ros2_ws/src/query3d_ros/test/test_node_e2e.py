"""End to end over real DDS: scene player, query3d_node and query3d_send as separate
processes with the bundled demo checkpoint; scored against the scene's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from query3d_ros.demo import run_demo  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_demo_commands_answered_from_separate_processes(tmp_path: Path) -> None:
    report = run_demo(tmp_path / "demo_out", backend="torch", timeout=240)
    rows = {r["kind"]: r for r in report["commands"]}
    assert {"st", "mt", "zt"} <= set(rows), rows.keys()
    for row in report["commands"]:
        assert not row["error"], row
        assert row["stamp_is_source_cloud"], f"output stamp is not a source cloud's: {row}"
        assert row["mask_stamp_matches"], row
        assert (tmp_path / "demo_out" / row["png"]).stat().st_size > 10_000
        assert 0.0 <= row["iou"] <= 1.0  # scored against the scene's ground truth
        for t in row["targets"]:  # every published target is a real part of the cloud
            assert t["num_points"] >= 1 and all(s > 0 for s in t["box_size"])
    # Accuracy is reported (summary.json), not asserted: the bundled checkpoint is trained
    # for one CPU hour and misses the IoU >= 0.5 bar (see README "Status").
    saved = json.loads((tmp_path / "demo_out" / "summary.json").read_text())
    assert saved["commands"] == json.loads(json.dumps(report["commands"]))
