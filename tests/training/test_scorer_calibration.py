"""Out-of-fold calibration of the slot scorer's threshold: folds by scan, nothing of a
held-out scan in its fold's training, and a threshold table that ranks as it should."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from query3d.model.heads.slot_scorer import SlotScorer, evidence_size
from query3d.training.slot_scoring import calibrate
from query3d.training.slot_scoring.cache import EvidenceCache
from query3d.training.slot_scoring.calibrate import (
    fold_scans,
    out_of_fold_logits,
    threshold_table,
)
from query3d.training.slot_scoring.fit import ScorerTraining

D, V, K = 8, 3, 4


def _cache(queries: int, seed: int, zero_every: int = 4) -> EvidenceCache:
    rng = np.random.default_rng(seed)
    evidence = rng.normal(size=(queries * K, evidence_size(D, V))).astype(np.float16)
    iou = rng.uniform(0, 1, size=queries * K).astype(np.float16)
    zero = np.arange(queries) % zero_every == 0
    iou.reshape(queries, K)[zero] = 0
    return EvidenceCache(evidence, iou, zero, np.arange(0, queries * K + 1, K))


def test_subset_keeps_the_chosen_queries_in_order() -> None:
    cache = _cache(6, 0)
    part = cache.subset([4, 1])
    assert part.num_queries == 2 and part.query_start.tolist() == [0, K, 2 * K]
    np.testing.assert_array_equal(part.evidence[:K], cache.evidence[4 * K:5 * K])
    np.testing.assert_array_equal(part.zero_target, cache.zero_target[[4, 1]])
    assert cache.subset([]).num_queries == 0


def test_folds_deal_every_calibrated_scan_once() -> None:
    scenes = [["s1", "s1", "s2", "s3"], ["a", "b"], ["s2", "s4", "s4"]]
    folds = fold_scans(scenes, [True, False, True], 2, seed=3)
    dealt = [s for f in folds for s in f]
    assert sorted(dealt) == ["s1", "s2", "s3", "s4"] and len(folds) == 2
    assert fold_scans(scenes, [True, False, True], 2, seed=3) == folds  # seeded
    with pytest.raises(ValueError, match="folds"):
        fold_scans(scenes, [True, False, True], 5)


def test_a_held_out_scan_never_trains_its_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _cache(8, 1)
    generated = _cache(6, 2)  # other queries on the same scans
    synthetic = _cache(10, 3)
    composites = _cache(4, 4)  # made of real scans: they leave with any of theirs
    scenes = [["r0", "r0", "r1", "r1", "r2", "r2", "r3", "r3"],
              ["r0", "r1", "r2", "r3", "r3", "r0"], [f"t{i}" for i in range(10)],
              ["r0+r1~0", "r2+r3~1", "r1+r2+r3~2", "r0+r3~3"]]
    seen: list[set] = []
    fit = calibrate.fit_slot_scorer

    def recording_fit(scorer, caches, settings, repeats):
        seen.append({bytes(e) for c in caches for e in
                     (c.evidence[c.query_start[q]:c.query_start[q + 1]].tobytes()
                      for q in range(c.num_queries))})
        return fit(scorer, caches, settings, repeats)

    monkeypatch.setattr(calibrate, "fit_slot_scorer", recording_fit)
    torch.manual_seed(0)
    template = SlotScorer(D, 5, V)
    before = {k: v.clone() for k, v in template.state_dict().items()}
    logits = out_of_fold_logits(template, [real, generated, synthetic, composites], scenes,
                                [True, True, False, False],
                                ScorerTraining(steps=3, batch_queries=4), [2, 2, 1, 1],
                                folds=2)
    assert logits[2] is None and logits[3] is None
    assert logits[0].shape == (8, K) and logits[1].shape == (6, K)
    assert np.isfinite(logits[0]).all() and np.abs(logits[0]).sum() > 0
    assert all(torch.equal(v, before[k]) for k, v in template.state_dict().items())
    folds = fold_scans(scenes, [True, True, False, False], 2, seed=0)
    assert sorted(s for f in folds for s in f) == ["r0", "r1", "r2", "r3"]
    trained_composites = 0
    for held, trained in zip(folds, seen):
        for cache, names in zip([real, generated, synthetic, composites], scenes):
            for q, scan in enumerate(names):
                rows = cache.evidence[cache.query_start[q]:cache.query_start[q + 1]].tobytes()
                made_of = set(scan.split("~")[0].split("+"))
                assert (rows in trained) == (not made_of & set(held))
                trained_composites += cache is composites and rows in trained
    assert trained_composites >= 1  # not all dropped


def test_threshold_table_trades_answers_against_zero_targets() -> None:
    # query 0: zero-target, best slot at p 0.3; query 1: its best-scored slot covers the
    # target (IoU 0.8) at p 0.3; query 2: confident and right
    iou = np.array([[0, 0], [0.8, 0.1], [0.9, 0]], np.float16).reshape(-1)
    cache = EvidenceCache(np.zeros((6, 1), np.float16), iou, np.array([True, False, False]),
                          np.arange(0, 7, 2))
    p = np.array([[0.3, 0.1], [0.3, 0.2], [0.9, 0.1]])
    rows = threshold_table(np.log(p / (1 - p)), cache, (0.2, 0.5))
    assert rows[0] == pytest.approx({"threshold": 0.2, "miou": (0 + 0.8 + 0.9) / 3,
                                     "zero_target": 0.0}, abs=1e-3)
    assert rows[1] == pytest.approx({"threshold": 0.5, "miou": (1 + 0 + 0.9) / 3,
                                     "zero_target": 1.0}, abs=1e-3)


def test_stored_evidence_is_found_whatever_the_thread_count() -> None:
    """The cache key ignores the word tables' last bits (the text encoder's output
    differs there between thread counts) and the scorer's own weights, and changes with
    any weight of the network that makes the evidence."""
    from query3d.config import load_config
    from query3d.model.mrcosmo import build_model
    from query3d.training.semantic.run import weights_key

    torch.manual_seed(0)
    cfg = dataclasses.replace(load_config("small").model, semantic_head=True,
                              slot_scorer=True)
    net = build_model(cfg)
    key = weights_key(net, "slot_scorer.")
    with torch.no_grad():
        net.slot_scorer.names.add_(1e-6 * torch.randn_like(net.slot_scorer.names))
        net.slot_scorer.colour_names.add_(1e-6)
        net.slot_scorer.colour_prototypes.add_(0.01)  # the scorer's own: not evidence
    assert weights_key(net, "slot_scorer.") == key
    with torch.no_grad():
        next(net.parameters()).add_(1e-2)
    assert weights_key(net, "slot_scorer.") != key
