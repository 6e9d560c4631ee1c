"""`query3d data generate | show | stats` on a two-scene dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from query3d.cli import main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli")
    code = main(["data", "generate", "--out", str(out), "--kind", "tabletop", "--split", "val",
                 "--scenes", "2", "--seed", "5", "--cameras", "1", "--workers", "1",
                 "--no-progress", "--json", str(out / "summary.json")])
    assert code == 0
    return out


def test_generate_writes_dataset_and_summary(dataset) -> None:
    summary = json.loads((dataset / "summary.json").read_text())
    assert summary["scenes"] == 2 and summary["queries"] > 0 and summary["scenes_per_s"] > 0
    scene = dataset / "val" / "scenes" / "tabletop_val_s5_00000"
    for name in ("cloud.npz", "objects.json", "cameras.json", "scene.json",
                 "cam0_rgb.png", "cam0_depth.png", "cam0_instance.png"):
        assert (scene / name).is_file()
    depth = np.array(Image.open(scene / "cam0_depth.png"))
    assert depth.shape == (480, 640) and 300 < np.median(depth[depth > 0]) < 3000  # mm
    with np.load(scene / "cloud.npz") as z:
        assert z["points"].dtype == np.float32 and z["colors"].dtype == np.uint8
        assert 5000 < len(z["points"]) <= 60000


def test_show_writes_a_real_picture(dataset, tmp_path) -> None:
    png = tmp_path / "scene.png"
    assert main(["data", "show", str(dataset), "tabletop_val_s5_00000", "--out",
                 str(png)]) == 0
    assert png.stat().st_size > 50_000
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert img.shape[0] > 600 and img.shape[1] > 800
    packed = (img[..., 0] << 16) | (img[..., 1] << 8) | img[..., 2]
    assert len(np.unique(packed)) > 2000  # photos, not blank axes
    red = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)
    assert red.sum() > 200  # highlighted query targets
    with pytest.raises(FileNotFoundError, match="no scene"):
        main(["data", "show", str(dataset), "tabletop_val_s5_09999", "--out", str(png)])


def test_stats_compares_with_real_scans(dataset, shared, tmp_path, capsys) -> None:
    real = shared / "data" / "osd-learn"
    if not real.is_dir():
        pytest.skip(f"{real} is absent")
    out = tmp_path / "stats.json"
    assert main(["data", "stats", "--synthetic", str(dataset), "--real", str(real),
                 "--limit", "2", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "nan_share" in table and "table_noise_mm" in table
    result = json.loads(out.read_text())
    for key in ("nan_share", "object_points", "saturation_mean", "color_mean_r",
                "table_noise_mm_0.8-1.0m"):
        assert set(result[key]) == {"synthetic", "real"}
    assert 0.0 < result["nan_share"]["real"] < 1.0
    # Real Kinect: about 1.9 mm point spacing at 1 m (f = 525 px); ours matches it.
    assert result["object_spacing_mm_at_1m"]["real"] == pytest.approx(1.9, abs=0.3)
    assert result["object_spacing_mm_at_1m"]["synthetic"] == pytest.approx(1.9, abs=0.3)
