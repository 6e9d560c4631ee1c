"""Catalogue and scene layouts: variety, physical plausibility, no interpenetration."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.training.data.synthetic.catalogue import (
    CATEGORIES,
    build_object,
    categories_for,
    categories_with_function,
)
from query3d.training.data.synthetic.colors import COLOR_NAMES
from query3d.training.data.synthetic.layout_room import room_layout
from query3d.training.data.synthetic.layout_tabletop import tabletop_layout


def test_catalogue_is_rich_enough() -> None:
    assert len(CATEGORIES) >= 15
    assert len(COLOR_NAMES) >= 10
    for name in ("box", "can", "mug", "cup", "bowl", "plate", "bottle", "ball", "book",
                 "laptop", "monitor", "keyboard", "chair", "plant", "lamp"):
        assert name in CATEGORIES
    assert {"mug", "cup"} <= categories_with_function("drink")
    assert "chair" in categories_with_function("sit")
    with pytest.raises(ValueError, match="category"):
        build_object("spaceship", np.random.default_rng(0))
    with pytest.raises(ValueError, match="does not come in"):
        build_object("plant", np.random.default_rng(0), color="purple")
    with pytest.raises(ValueError, match="kind"):
        categories_for("garden")


def test_instances_vary_in_size() -> None:
    rng = np.random.default_rng(0)
    heights = [np.ptp(build_object("mug", rng).local_points()[:, 2]) for _ in range(20)]
    assert max(heights) > 1.15 * min(heights)


def _interior_samples(solid, rng, n=300) -> np.ndarray:
    lo, hi = solid.bounds()
    pts = rng.uniform(lo, hi, (n, 3))
    return pts[solid.contains(pts)]


def _interpenetrations(layout, rng) -> list[tuple[int, int]]:
    solids = {o.object_id: [it.solid for it in o.render_items()] for o in layout.objects}
    bad = []
    for a, a_solids in solids.items():
        pts = np.concatenate([_interior_samples(s, rng) for s in a_solids])
        # Two samples may land on a shared contact face (a mug on a book); more cannot.
        for b, b_solids in solids.items():
            if a != b and any(s.contains(pts).sum() > 2 for s in b_solids):
                bad.append((a, b))
    return bad


def test_tabletop_layouts_do_not_interpenetrate_and_stack_and_lean() -> None:
    rng = np.random.default_rng(1)
    stacked = leaning = 0
    for seed in range(14):
        layout = tabletop_layout(np.random.default_rng(seed))
        assert 4 <= len(layout.objects) - 1 <= 11
        assert _interpenetrations(layout, rng) == []
        table = layout.objects[0]
        assert table.category == "table"
        for o in layout.objects[1:]:
            assert o.support is not None
            bottom = o.world_corners()[:, 2].min()
            support_top = layout.by_id(o.support).top_z()
            if o.leaning_on is None:
                assert bottom == pytest.approx(support_top, abs=1e-6)  # resting, not floating
            else:
                leaning += 1
                assert abs(o.rotation[2, 2]) < 0.99  # really tilted
            stacked += o.support != table.object_id
    assert stacked > 0 and leaning > 0


def test_room_layouts_have_furniture_and_no_interpenetration() -> None:
    rng = np.random.default_rng(2)
    cats = set()
    for seed in range(3):
        layout = room_layout(np.random.default_rng(seed))
        cats |= {o.category for o in layout.objects}
        assert _interpenetrations(layout, rng) == []
    assert {"table", "chair"} <= cats
    assert len(cats) >= 6
