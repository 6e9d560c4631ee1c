"""Pictures: palette stability, box geometry, and that the PNG shows the targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from query3d.model.output import QueryResult, TargetResult
from query3d.viz import box_corners, colors_for_ids, render_result


def test_palette_is_stable_and_background_grey() -> None:
    ids = np.array([0, 1, 11, -1])
    a, b = colors_for_ids(ids), colors_for_ids(ids)
    assert (a == b).all()
    assert (a[0] != a[1]).any()
    assert (a[3] == 0).all()
    assert (colors_for_ids(np.array([-1]), background=np.array([9, 9, 9]))[0] == 9).all()


def test_box_corners_respect_yaw_and_size() -> None:
    corners = box_corners(np.array([1.0, 2.0, 3.0]), np.array([2.0, 1.0, 0.5]), np.pi / 2)
    assert np.allclose(corners.mean(axis=0), [1.0, 2.0, 3.0])
    # rotated 90 degrees: the 2 m side now runs along y
    assert np.isclose(np.ptp(corners[:, 1]), 2.0) and np.isclose(np.ptp(corners[:, 0]), 1.0)
    assert np.isclose(np.ptp(corners[:, 2]), 0.5)


def test_render_writes_png_with_target_colour(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, size=(3000, 3))
    inside = np.flatnonzero(np.linalg.norm(pts[:, :2] - 0.5, axis=1) < 0.2)
    target = TargetResult(0, inside, np.full(len(inside), 0.9, np.float32),
                          np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 2.0]), 0.0, 0.95, "mug")
    result = QueryResult("the red mug", len(pts), [target])
    out = render_result(pts, None, result, tmp_path / "r.png")
    img = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3).astype(int)
    red = colors_for_ids(np.array([0]))[0].astype(int)
    assert (np.abs(img - red).sum(axis=1) < 30).sum() > 200  # target visibly drawn
    empty = render_result(pts, None, QueryResult("a giraffe", len(pts)), tmp_path / "e.png")
    img2 = np.asarray(Image.open(empty).convert("RGB")).reshape(-1, 3).astype(int)
    assert (np.abs(img2 - red).sum(axis=1) < 30).sum() < 20
