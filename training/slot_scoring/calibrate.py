"""Choose ``decision.score_threshold`` for a domain from out-of-fold scorer scores.

The scorer sees the few real scans' queries many times (``--repeat``) and memorises
them: on its own training queries it is confident, on a new scan much less (the shipped
scorer's BCE: 0.07 on the mOSD train queries, 1.10 on mOSD val). A threshold read off
the training queries is therefore too high for new scans, and one calibrated on
synthetic scenes (where the scorer is as sure on new scenes as on old ones) is too.
Cross-validation by scan gives scores as a new scan gets them: the scans of the
calibrated kind are split into folds, and each fold's queries are scored by a scorer
trained on everything but that fold's scans (every source's queries of those scans
leave together, written and generated alike).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from query3d.model.heads.slot_scorer import SlotScorer
from query3d.training.data.readers.mosd_composite import source_scans
from query3d.training.semantic.run import reset_seeded
from query3d.training.slot_scoring.cache import EvidenceCache
from query3d.training.slot_scoring.fit import ScorerTraining, fit_slot_scorer

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7)


def fold_scans(scenes: Sequence[Sequence[str]], calibrated: Sequence[bool], folds: int,
               seed: int = 0) -> list[list[str]]:
    """The scans of the calibrated caches (``scenes[c][q]``: query q's scan), shuffled with
    ``seed`` and dealt into ``folds`` folds."""
    scans = sorted({s for c, names in enumerate(scenes) if calibrated[c] for s in names})
    if folds < 2 or folds > len(scans):
        raise ValueError(f"calibration needs 2 <= folds <= {len(scans)} scans, got {folds}")
    np.random.default_rng(seed).shuffle(scans)
    return [scans[i::folds] for i in range(folds)]


def out_of_fold_logits(template: SlotScorer, caches: Sequence[EvidenceCache],
                       scenes: Sequence[Sequence[str]], calibrated: Sequence[bool],
                       settings: ScorerTraining, repeats: Sequence[int], folds: int,
                       ) -> list[np.ndarray | None]:
    """(Q, K) logits of every query of each calibrated cache from the fold scorer that
    never saw its scan (None for the other caches). ``template`` is an untrained scorer
    with its word tables set; it is copied, not changed."""
    out = [np.zeros((c.num_queries, c.query_start[1] - c.query_start[0]), np.float32)
           if calibrated[i] else None for i, c in enumerate(caches)]
    for f, held in enumerate(fold_scans(scenes, calibrated, folds, settings.seed)):
        held = set(held)
        scorer = copy.deepcopy(template)
        reset_seeded(scorer.mlp, settings.seed + 1 + f)
        # a composite made with a held-out scan leaves with it
        train = [c.subset([q for q, s in enumerate(names) if not source_scans(s) & held])
                 for c, names in zip(caches, scenes)]
        kept = [(c, r) for c, r in zip(train, repeats) if c.num_queries]
        fit_slot_scorer(scorer, [c for c, _ in kept],
                        ScorerTraining(**{**vars(settings), "seed": settings.seed + 1 + f,
                                          "history": []}), [r for _, r in kept])
        with torch.no_grad():
            for i, (cache, names) in enumerate(zip(caches, scenes)):
                queries = [q for q, s in enumerate(names) if s in held]
                if not calibrated[i] or not queries:
                    continue
                # every query has the network's K slots: one (Q, K, F) batch per cache
                evidence = torch.from_numpy(cache.subset(queries).evidence).float()
                out[i][queries] = scorer(evidence.view(len(queries), out[i].shape[1], -1)
                                         ).numpy()
    return out


def threshold_table(logits: np.ndarray, cache: EvidenceCache,
                    thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, float]]:
    """Per threshold: the mean IoU if each query is answered by its best-scored slot when
    that fires (a zero-target query scores 1 when nothing fires), and the zero-target
    accuracy. The slot's IoU is its stored best IoU with a target, so a multi-target
    query counts its best slot's object only: a ranking of thresholds, not ``query3d
    eval``'s number."""
    probs = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    iou = cache.iou.astype(np.float64).reshape(probs.shape)
    zero = cache.zero_target
    best = iou[np.arange(len(probs)), probs.argmax(1)]
    rows = []
    for t in thresholds:
        fired = probs.max(1) > t
        value = np.where(zero, ~fired, np.where(fired, best, 0.0))
        rows.append({"threshold": float(t), "miou": float(value.mean()),
                     "zero_target": float((~fired[zero]).mean()) if zero.any() else 1.0})
    return rows


def format_table(label: str, rows: list[dict[str, float]], queries: int) -> str:
    lines = [f"out-of-fold {label} ({queries} queries): threshold  mIoU(best slot)  zero-target"]
    lines += [f"  {r['threshold']:>5.2f}  {100 * r['miou']:5.1f}  {100 * r['zero_target']:5.1f}"
              for r in rows]
    return "\n".join(lines)
