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
    assert rows["st"]["iou"] >= 0.5, rows["st"]
    assert rows["zt"]["targets"] == [], rows["zt"]
    assert len(rows["mt"]["targets"]) == len(rows["mt"]["expected_object_ids"]), rows["mt"]
    saved = json.loads((tmp_path / "demo_out" / "summary.json").read_text())
    assert saved["commands"] == json.loads(json.dumps(report["commands"]))
