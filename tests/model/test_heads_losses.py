"""Heads and losses: soft box test, query selection, Eq. 15-17 by hand, matching, objective."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from query3d.config import LossConfig
from query3d.model.heads import DetectionHead, LanguageGuidedSelection, soft_box_log_gate
from query3d.model.heads.mask import log_sigmoid
from query3d.model.losses import (
    MatchCosts,
    MRCosmoLoss,
    QueryTargets,
    binary_cross_entropy,
    box_vector,
    hungarian_match,
    match_cost_matrix,
    smooth_l1,
    weighted_cross_entropy,
)


def test_soft_box_gate_follows_yaw_and_margin():
    center = torch.tensor([[1.0, 2.0, 0.0]])
    size = torch.tensor([[0.4, 0.1, 0.1]])  # long along its own x
    yaw = torch.tensor([math.pi / 2])  # ... which points along world y
    pts = torch.tensor([
        [1.0, 2.15, 0.0],  # along world y, inside the turned box
        [1.15, 2.0, 0.0],  # along world x: outside (half width 0.05 + margin 0.02)
        [1.06, 2.0, 0.0],  # just outside the box, inside the margin
    ])
    gate = soft_box_log_gate(pts, center, size, yaw, margin=0.02, softness=0.002)[0]
    assert gate[0] > math.log(0.99)
    assert gate[1] < math.log(1e-5)
    assert gate[2] > math.log(0.9)
    no_margin = soft_box_log_gate(pts, center, size, yaw, margin=0.0, softness=0.002)[0]
    assert no_margin[2] < math.log(0.01)


def test_log_sigmoid_is_exact_far_from_zero():
    x = torch.tensor([-200.0, -30.0, -1.0, 0.0, 3.0, 90.0], dtype=torch.float64)
    torch.testing.assert_close(log_sigmoid(x), torch.nn.functional.logsigmoid(x))


def test_detection_head_box_parametrisation():
    torch.manual_seed(0)
    head = DetectionHead(8, num_classes=3, size_prior=0.2)
    out = head(torch.randn(5, 8), torch.zeros(5, 3), torch.randn(1, 8))
    assert out["box_size"].min() > 0
    vec = out["box_yaw_vec"]
    torch.testing.assert_close(vec.norm(dim=-1), torch.ones(5))
    torch.testing.assert_close(torch.stack([torch.cos(2 * out["box_yaw"]),
                                            torch.sin(2 * out["box_yaw"])], -1), vec)
    # a box turned by pi is the same box, and gets the same regression target
    y = torch.tensor([0.3])
    torch.testing.assert_close(box_vector(torch.zeros(1, 3), torch.ones(1, 3), y),
                               box_vector(torch.zeros(1, 3), torch.ones(1, 3), y + math.pi))


def test_language_guided_selection_takes_the_top_k_seeds():
    torch.manual_seed(1)
    sel = LanguageGuidedSelection(8, heads=2, num_queries=3)
    xyz, feats = torch.randn(20, 3), torch.randn(20, 8)
    seeds = torch.tensor([4, 9, 1, 17, 6, 12])
    out = sel(feats, xyz, seeds, torch.randn(4, 8), torch.zeros(1, 4))
    assert set(out.selected.tolist()) == set(out.seed_logits.topk(3).indices.tolist())
    torch.testing.assert_close(out.anchors, xyz[seeds[out.selected]])


def test_smooth_l1_is_eq_15():
    pred = torch.tensor([0.0, 0.03, 0.5, -1.0])
    target = torch.tensor([0.01, 0.0, 0.0, 0.0])
    eps = 0.05
    d = np.abs(pred.numpy() - target.numpy())
    want = np.where(d < eps, 0.5 * d**2 / eps, d - 0.5 * eps).mean()
    assert float(smooth_l1(pred, target, eps)) == pytest.approx(want, rel=1e-6)


def test_weighted_cross_entropy_is_eq_16():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]])
    labels = torch.tensor([0, 2, -1])  # the last row is ignored
    w = torch.tensor([0.5, 1.0, 3.0])
    p = torch.softmax(logits, -1).numpy()
    want = -(0.5 * np.log(p[0, 0]) + 3.0 * np.log(p[1, 2])) / 2  # 1/N with N = 2 rows
    assert float(weighted_cross_entropy(logits, labels, w)) == pytest.approx(want, rel=1e-6)


def test_binary_cross_entropy_is_eq_17():
    logits = torch.tensor([[3.0, -2.0, 0.5]])
    y = torch.tensor([[1.0, 0.0, 0.0]])
    p = 1 / (1 + np.exp(-logits.numpy()[0]))
    want = -np.mean(y.numpy()[0] * np.log(p) + (1 - y.numpy()[0]) * np.log(1 - p))
    assert float(binary_cross_entropy(logits, y)[0]) == pytest.approx(want, rel=1e-6)


NUM_CLASSES = 3  # class logits of _raw


def _raw(k=4, n=30, classes=NUM_CLASSES, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "box_center": torch.randn(k, 3, generator=g), "box_size": torch.rand(k, 3, generator=g),
        "box_yaw_vec": torch.nn.functional.normalize(torch.randn(k, 2, generator=g), dim=-1),
        "ref_logit": torch.randn(k, generator=g),
        "class_logits": torch.randn(k, classes, generator=g),
        "mask_logits": torch.randn(k, n, generator=g),
        "mask_logits_passes": torch.randn(2, k, n, generator=g),
        "seed_logits": torch.randn(6, generator=g), "seed_points": torch.arange(0, 30, 5),
        "point_feat": torch.randn(n, 8, generator=g), "memory_text": torch.randn(1, 8, generator=g),
    }


def _targets(n=30, t=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(t, n, dtype=torch.bool)
    for i in range(t):
        masks[i, i * 10:(i + 1) * 10] = True
    return QueryTargets(masks, torch.randn(t, 3, generator=g), torch.rand(t, 3, generator=g),
                        torch.rand(t, generator=g), torch.arange(t) % 3)


def test_hungarian_matching_is_the_brute_force_optimum():
    raw, tgt = _raw(k=5), _targets(t=3)
    costs = MatchCosts()
    cost = match_cost_matrix(raw, tgt, costs)
    slots, tids = hungarian_match(raw, tgt, costs)
    best = min(sum(float(cost[s, t]) for t, s in enumerate(perm))
               for perm in itertools.permutations(range(5), 3))
    assert float(cost[slots, tids].sum()) == pytest.approx(best, rel=1e-6)


def test_matching_finds_the_slot_whose_mask_fits():
    raw, tgt = _raw(k=4), _targets(t=2)
    raw["mask_logits"] = torch.full((4, 30), -8.0)
    raw["mask_logits"][2, 10:20] = 8.0  # slot 2 predicts target 1's points
    raw["mask_logits"][0, 0:10] = 8.0  # slot 0 predicts target 0's points
    slots, tids = hungarian_match(raw, tgt, MatchCosts(referred=0, classes=0, box=0))
    assert dict(zip(tids.tolist(), slots.tolist())) == {0: 0, 1: 2}


def test_zero_target_query_trains_every_slot_to_not_referred():
    cfg = LossConfig(noobj_weight=0.25)
    raw = {k: v.requires_grad_(v.is_floating_point()) for k, v in _raw().items()}
    out = MRCosmoLoss(cfg, NUM_CLASSES)([raw], [_targets(t=0)])
    r = raw["ref_logit"].detach().numpy()
    want = -np.mean(0.25 * np.log(1 - 1 / (1 + np.exp(-r))))
    assert float(out.terms["referred_wce"].detach()) == pytest.approx(want, rel=1e-5)
    for name in ("smooth_l1", "class_wce", "bce", "dcma"):
        assert float(out.terms[name].detach()) == 0.0
    assert out.memory_items is None
    out.total.backward()
    assert (raw["ref_logit"].grad > 0).all()  # every score is pushed down


def test_objective_combines_terms_as_eq_12_13():
    cfg = LossConfig(alpha=2.0, beta=3.0, seed_weight=0.5, dice=True, referred_weight=4.0)
    out = MRCosmoLoss(cfg, NUM_CLASSES)([_raw()], [_targets()])
    t = out.terms
    det = t["smooth_l1"] + t["class_wce"] + 4.0 * t["referred_wce"] + 0.5 * t["seed"]
    want = 2.0 * det + 3.0 * (t["bce"] + t["dice"]) + t["dcma"]
    assert float(out.total) == pytest.approx(float(want), rel=1e-6)
    assert all(float(v) > 0 for k, v in t.items() if k != "dcma")
    items = out.memory_items
    assert items.text.shape == (2, 8) and items.bce.shape == (2,)
    # the stored visual feature is the mean point feature of the target's points
    slot_of = dict(zip(out.matches[0][1].tolist(), range(2)))
    torch.testing.assert_close(items.visual[slot_of[1]], _raw()["point_feat"][10:20].mean(0))


def test_loss_rejects_mismatched_targets():
    with pytest.raises(ValueError, match="points"):
        MRCosmoLoss(LossConfig(), NUM_CLASSES)([_raw(n=30)], [_targets(n=31)])
    with pytest.raises(ValueError, match="class_weights has 2 entries"):
        MRCosmoLoss(LossConfig(class_weights=[1.0, 2.0]), NUM_CLASSES)
    with pytest.raises(ValueError, match="box_size"):
        QueryTargets(torch.zeros(1, 4, dtype=torch.bool), torch.zeros(1, 3), torch.zeros(2, 3),
                     torch.zeros(1), torch.zeros(1, dtype=torch.long))


def test_targets_from_a_sample_follow_the_frame():
    from query3d.data.sample import ObjectBox, Query, Sample, Scene

    scene = Scene(
        "s", points=np.zeros((5, 3), np.float32), instance=np.array([4, 4, -1, 7, 7]),
        objects=[ObjectBox(4, "mug", np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.2]), 0.3),
                 ObjectBox(7, "plant", np.array([0.0, 0.0, 0.0]), np.ones(3))])
    sample = Sample(scene, Query("the mug and the thing", [4, 7], eval_type="mt"))
    tgt = QueryTargets.from_sample(sample, origin=np.array([1.0, 1.0, 1.0]),
                                   class_names=["mug", "cup"], point_index=np.array([3, 0, 1]))
    assert tgt.masks.tolist() == [[False, True, True], [True, False, False]]
    torch.testing.assert_close(tgt.box_center[0], torch.tensor([0.0, 1.0, 2.0]))
    assert tgt.classes.tolist() == [0, -1]  # "plant" is not a known class: ignored by WCE
    assert float(tgt.box_yaw[0]) == pytest.approx(0.3)
    empty = QueryTargets.from_sample(Sample(scene, Query("nothing", [], eval_type="zt")),
                                     np.zeros(3), ["mug"])
    assert empty.num_targets == 0 and empty.masks.shape == (0, 5)


def test_seed_ranking_adds_the_targets_softmax_share():
    """seed_points 0, 5, ..., 25: targets 0 (points 0-9) and 1 (10-19) hold seeds 0-3."""
    raw, tgt = _raw(), _targets()
    plain = MRCosmoLoss(LossConfig(seed_ranking=0.0), NUM_CLASSES)([raw], [tgt]).terms["seed"]
    ranked = MRCosmoLoss(LossConfig(seed_ranking=2.0), NUM_CLASSES)([raw], [tgt]).terms["seed"]
    logits = raw["seed_logits"]
    share = torch.logsumexp(logits[:4], 0) - torch.logsumexp(logits, 0)
    assert float(ranked) == pytest.approx(float(plain - 2.0 * share), rel=1e-5)
    # a zero-target query has no share to rank: the term is the BCE alone
    zero = [_targets(t=0)]
    assert float(MRCosmoLoss(LossConfig(seed_ranking=2.0), NUM_CLASSES)([raw], zero)
                 .terms["seed"]) == pytest.approx(float(
                     MRCosmoLoss(LossConfig(), NUM_CLASSES)([raw], zero).terms["seed"]))


def test_mask_iou_assignment_calls_every_slot_on_a_target_referred():
    """Two slots lock onto target 0 (a duplicate): one-to-one matching pushes one of them
    down as "not referred", mask_iou pushes both up; a slot on no target goes down in both."""
    from query3d.model.losses.objective import covers_a_target

    tgt = _targets(t=1)
    raw = {k: v.requires_grad_(v.is_floating_point()) for k, v in _raw(k=3).items()}
    with torch.no_grad():
        raw["mask_logits"].fill_(-8.0)
        raw["mask_logits"][0, 0:10] = 8.0  # exactly target 0
        raw["mask_logits"][1, 1:10] = 8.0  # the duplicate: IoU 0.9
        raw["mask_logits"][2, 20:30] = 8.0  # elsewhere
        raw["ref_logit"].zero_()
    assert covers_a_target(raw["mask_logits"], tgt.masks, 0.5).tolist() == [True, True, False]
    assert covers_a_target(raw["mask_logits"], tgt.masks, 0.95).tolist() == [True, False, False]
    grads = {}
    for assignment in ("hungarian", "mask_iou"):
        raw["ref_logit"].grad = None
        cfg = LossConfig(referred_assignment=assignment)
        MRCosmoLoss(cfg, NUM_CLASSES)([raw], [tgt]).terms["referred_wce"].backward()
        grads[assignment] = raw["ref_logit"].grad.clone()
    assert (grads["mask_iou"][:2] < 0).all() and grads["mask_iou"][2] > 0  # up, up, down
    assert (grads["hungarian"] > 0).sum() == 2  # only the matched slot goes up
    with pytest.raises(ValueError, match="referred_assignment"):
        LossConfig(referred_assignment="nearest")
