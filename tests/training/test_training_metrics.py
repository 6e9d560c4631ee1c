"""Metrics on hand-made predictions: mask IoU, Acc@k, the GRES zero-target rule, oriented
box IoU (known cases and a Monte-Carlo cross-check), semantic scores and hIoU."""

from __future__ import annotations

import math

import numpy as np
import pytest

from query3d.training.metrics import (
    Box3D,
    ReferringMetrics,
    box3d_iou,
    confusion_matrix,
    harmonic_iou,
    mask_iou,
    match_boxes,
    open_vocab_scores,
    semantic_scores,
)


def _mask(n: int, on: list[int]) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[on] = True
    return m


def test_mask_iou_counts_overlap_over_union() -> None:
    assert mask_iou(_mask(10, [0, 1, 2, 3]), _mask(10, [2, 3, 4, 5])) == pytest.approx(2 / 6)
    assert mask_iou(_mask(10, [0, 1]), _mask(10, [0, 1])) == 1.0
    assert mask_iou(_mask(10, []), _mask(10, [5])) == 0.0


def test_zero_target_scores_one_only_when_nothing_is_predicted() -> None:
    assert mask_iou(_mask(10, []), _mask(10, [])) == 1.0
    assert mask_iou(_mask(10, [3]), _mask(10, [])) == 0.0


def test_mask_iou_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="shape"):
        mask_iou(np.zeros(4, bool), np.zeros(5, bool))


def test_summary_acc_at_thresholds_and_splits() -> None:
    m = ReferringMetrics()
    n = 20
    # IoU 1.0 (single), 0.4 (single), 0.2 (multi), zero-target right, zero-target wrong.
    m.add(_mask(n, [0, 1]), _mask(n, [0, 1]), eval_type="st", categories=["mug"])
    m.add(_mask(n, [0, 1, 2, 3, 4]), _mask(n, [0, 1]), eval_type="st", categories=["box"],
          kind="instruction")
    m.add(_mask(n, [0]), _mask(n, [0, 1, 2, 3, 4]), eval_type="mt", categories=["mug", "box"])
    m.add(_mask(n, []), _mask(n, []), eval_type="zt", kind="zero")
    m.add(_mask(n, [7]), _mask(n, []), eval_type="zt", kind="zero")
    s = m.summary()
    assert s["count"] == 5
    assert s["miou"] == pytest.approx((1.0 + 0.4 + 0.2 + 1.0 + 0.0) / 5)
    assert s["acc@0.25"] == pytest.approx(3 / 5)  # 1.0, 0.4, 1.0
    assert s["acc@0.5"] == pytest.approx(2 / 5)  # 1.0, 1.0
    assert s["zero_target_accuracy"] == 0.5
    assert s["by_eval_type"]["st"]["miou"] == pytest.approx(0.7)
    assert s["by_eval_type"]["mt"]["count"] == 1
    assert s["by_kind"]["instruction"]["miou"] == pytest.approx(0.4)
    assert s["by_category"]["mug"]["miou"] == pytest.approx((1.0 + 0.2) / 2)
    assert s["by_category"]["box"]["count"] == 2
    assert "zero" not in s["by_category"]


def test_threshold_is_strictly_above() -> None:
    m = ReferringMetrics()
    m.add(_mask(4, [0, 1]), _mask(4, [0, 1, 2, 3]), eval_type="st")  # IoU exactly 0.5
    assert m.summary()["acc@0.5"] == 0.0 and m.summary()["acc@0.25"] == 1.0


def test_bad_eval_type_is_named() -> None:
    with pytest.raises(ValueError, match="eval_type"):
        ReferringMetrics().add(_mask(3, []), _mask(3, []), eval_type="single")


UNIT = Box3D.of([0, 0, 0], [1, 1, 1])


def test_box_iou_known_cases() -> None:
    assert box3d_iou(UNIT, UNIT) == pytest.approx(1.0)
    assert box3d_iou(UNIT, Box3D.of([3, 0, 0], [1, 1, 1])) == 0.0
    assert box3d_iou(UNIT, Box3D.of([0, 0, 0], [1, 1, 1], math.pi / 2)) == pytest.approx(1.0)
    assert box3d_iou(UNIT, Box3D.of([0.5, 0, 0], [1, 1, 1])) == pytest.approx(1 / 3)
    # Shift along z only: the height overlap matters as much as the footprint.
    assert box3d_iou(UNIT, Box3D.of([0, 0, 0.5], [1, 1, 1])) == pytest.approx(1 / 3)
    # A 2x1 box turned 90 degrees against itself unturned: overlap 1x1, union 3.
    flat = Box3D.of([0, 0, 0], [2, 1, 1])
    assert box3d_iou(flat, Box3D.of([0, 0, 0], [2, 1, 1], math.pi / 2)) == pytest.approx(1 / 3)


def _monte_carlo_iou(a: Box3D, b: Box3D, rng: np.random.Generator, n: int = 400_000) -> float:
    lo = np.minimum(np.array(a.center) - max(a.size), np.array(b.center) - max(b.size))
    hi = np.maximum(np.array(a.center) + max(a.size), np.array(b.center) + max(b.size))
    pts = rng.uniform(lo, hi, size=(n, 3))

    def inside(box: Box3D) -> np.ndarray:
        d = pts - np.array(box.center)
        c, s = math.cos(box.yaw), math.sin(box.yaw)
        local_x, local_y = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
        return ((np.abs(local_x) <= box.size[0] / 2) & (np.abs(local_y) <= box.size[1] / 2)
                & (np.abs(d[:, 2]) <= box.size[2] / 2))

    ia, ib = inside(a), inside(b)
    return np.count_nonzero(ia & ib) / max(np.count_nonzero(ia | ib), 1)


def test_box_iou_matches_monte_carlo_for_random_rotated_boxes() -> None:
    rng = np.random.default_rng(7)
    for _ in range(6):
        a = Box3D.of(rng.uniform(-0.3, 0.3, 3), rng.uniform(0.5, 1.5, 3), rng.uniform(-3, 3))
        b = Box3D.of(rng.uniform(-0.3, 0.3, 3), rng.uniform(0.5, 1.5, 3), rng.uniform(-3, 3))
        assert box3d_iou(a, b) == pytest.approx(_monte_carlo_iou(a, b, rng), abs=0.01)


def test_box_matching_is_one_to_one_and_scores_duplicates_once() -> None:
    far = Box3D.of([5, 5, 0], [1, 1, 1])
    ious = match_boxes([UNIT, UNIT], [UNIT, far])
    assert sorted(ious.tolist()) == pytest.approx([0.0, 1.0])
    m = ReferringMetrics()
    m.add(_mask(4, [0]), _mask(4, [0]), eval_type="mt", pred_boxes=[UNIT, UNIT],
          gt_boxes=[UNIT, far])
    m.add(_mask(4, [0]), _mask(4, [0]), eval_type="st", pred_boxes=[UNIT], gt_boxes=[UNIT])
    m.add(_mask(4, []), _mask(4, []), eval_type="zt", pred_boxes=[UNIT], gt_boxes=[])
    s = m.summary()
    assert s["box_acc@0.5"] == pytest.approx(1 / 3)  # only the single-target one is exact
    assert s["box_f1@0.5"] == pytest.approx((2 * 1 / 4 + 1.0 + 0.0) / 3)


def test_semantic_scores_by_hand() -> None:
    gt = np.array([0, 0, 0, 1, 1, 2, -1])
    pred = np.array([0, 0, 1, 1, 2, 2, 0])
    conf = confusion_matrix(pred, gt, num_classes=4)
    assert conf.sum() == 6  # the ignored label is skipped
    s = semantic_scores(conf)
    assert s["oa"] == pytest.approx(4 / 6)
    assert s["macc"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)  # class 3 absent: left out
    assert s["miou"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 2) / 3)
    assert math.isnan(s["iou_per_class"][3])


def test_semantic_scores_match_scikit_learn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    gt, pred = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    conf = confusion_matrix(pred, gt, num_classes=5)
    assert np.array_equal(conf, sk.confusion_matrix(gt, pred, labels=range(5)))
    s = semantic_scores(conf)
    assert s["miou"] == pytest.approx(sk.jaccard_score(gt, pred, average="macro"))
    assert s["macc"] == pytest.approx(sk.balanced_accuracy_score(gt, pred))


def test_hiou_and_open_vocab() -> None:
    assert harmonic_iou(0.6, 0.3) == pytest.approx(0.4)
    assert harmonic_iou(0.0, 0.0) == 0.0
    conf = np.diag([10, 10, 10]).astype(float)
    conf[2, 0] = 10  # half of class 2 is called class 0
    s = open_vocab_scores(conf, base_classes=[0, 1], novel_classes=[2])
    assert s["miou_novel"] == pytest.approx(0.5)
    assert s["miou_base"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["hiou"] == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    with pytest.raises(ValueError, match="both base and novel"):
        open_vocab_scores(conf, [0, 1], [1, 2])


def test_confusion_rejects_out_of_range_labels() -> None:
    with pytest.raises(ValueError, match="labels must lie"):
        confusion_matrix(np.array([0, 7]), np.array([0, 1]), num_classes=3)
