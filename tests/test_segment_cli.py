"""`query3d segment` on real cloud files: JSON, PNG and per-point ids; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from query3d.cli import main
from query3d.config import load_config
from query3d.model.checkpoint import save_checkpoint
from query3d.model.mrcosmo import build_model
from query3d.model.runtime.scenes import tabletop_cloud


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real (randomly initialised) weights of a reduced network: the verb's plumbing is
    under test here, not accuracy."""
    cfg = load_config("small", {"model": {"dim": 16, "align_dim": 16, "num_queries": 4,
                                          "num_seeds": 8, "use_images": False},
                                "data": {"max_points": 2000}})  # its training density
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.manual_seed(0)
    save_checkpoint(path, build_model(cfg.model), cfg)
    return path


def test_segment_npz_writes_json_png_and_mask(tmp_path: Path, checkpoint: Path) -> None:
    points, colors = tabletop_cloud(3000, seed=1)
    cloud = tmp_path / "scene.npz"
    np.savez(cloud, points=points, colors=colors)
    out = tmp_path / "out"
    code = main(["segment", str(cloud), "the red box", "--checkpoint", str(checkpoint),
                 "--backend", "torch", "--out", str(out), "--json", str(tmp_path / "s.json")])
    assert code == 0
    summary = json.loads((out / "result.json").read_text())
    assert summary == json.loads((tmp_path / "s.json").read_text())
    # the network ran at the checkpoint's density; every point of the file is answered for
    assert summary["command"] == "the red box" and summary["network_points"] == 2000
    instance = np.load(out / "instance.npy")
    assert instance.shape == (3000,)
    claimed = int((instance >= 0).sum())
    sizes = [t["num_points"] for t in summary["targets"]]  # targets may share a few points
    assert (max(sizes) if sizes else 0) <= claimed <= sum(sizes)
    assert (out / "result.png").stat().st_size > 10_000


def test_segment_reports_bad_files(tmp_path: Path, checkpoint: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.pcd"
    bad.write_bytes(b"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\n")
    code = main(["segment", str(bad), "the mug", "--checkpoint", str(checkpoint),
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "broken.pcd" in capsys.readouterr().err


def test_segment_levels_a_cloud_in_a_cameras_optical_frame(tmp_path: Path,
                                                           checkpoint: Path) -> None:
    """A z-up cloud is left as it is; the same cloud seen from a camera's optical frame
    (z forward, y down: raw Kinect PCDs) is put back on its support plane."""
    points, colors = tabletop_cloud(3000, seed=2)
    tilt = np.radians(55.0)  # camera pitched down at the table, 0.6 m above it
    x, y, z = points[:, 0] - 0.8, points[:, 1], points[:, 2] - 0.6  # camera at (0.8, 0, 0.6)
    forward, down = np.cos(tilt) * -x + np.sin(tilt) * -z, np.sin(tilt) * x - np.cos(tilt) * z
    optical = np.stack([y, down, forward], axis=1).astype(np.float32)
    answers = {}
    for name, cloud_points in (("upright", points), ("optical", optical)):
        cloud = tmp_path / f"{name}.npz"
        np.savez(cloud, points=cloud_points, colors=colors)
        out = tmp_path / name
        assert main(["segment", str(cloud), "the red box", "--checkpoint", str(checkpoint),
                     "--backend", "torch", "--out", str(out)]) == 0
        answers[name] = json.loads((out / "result.json").read_text())["frame"]
    assert answers["upright"]["levelled"] is False
    assert answers["optical"]["levelled"] is True
    assert 135 < answers["optical"]["up_vs_cloud_z_deg"] < 155  # forward, 55 deg down
    T = np.array(answers["optical"]["T_levelled_from_input"])
    levelled = optical @ T[:3, :3].T + T[:3, 3]
    # back on the table: the support plane at z = 0, objects above it, heights as before
    assert np.median(np.abs(levelled[:, 2] - points[:, 2])) < 0.01
    cloud = tmp_path / "optical.npz"
    assert main(["segment", str(cloud), "the red box", "--checkpoint", str(checkpoint),
                 "--frame", "as-is", "--out", str(tmp_path / "asis")]) == 0
    assert json.loads((tmp_path / "asis" / "result.json").read_text())["frame"] == {
        "levelled": False, "reason": "--frame as-is"}
