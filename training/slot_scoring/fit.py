"""Train the slot scorer on stored evidence: a slot is "answers" when its mask covers a
target with IoU >= ``positive_iou`` (a target covered twice has two positives; the
decoder's de-duplication keeps one), and every slot of a zero-target query is negative."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from query3d.model.heads.slot_scorer import SlotScorer
from query3d.training.slot_scoring.cache import EvidenceCache
from query3d.training.trainer.optim import head_optimizer, head_step


@dataclass
class ScorerTraining:
    steps: int = 4000
    batch_queries: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    positive_iou: float = 0.5
    soft_targets: bool = False  # target = min(1, IoU / positive_iou) instead of 0 / 1
    seed: int = 0
    history: list[dict] = field(default_factory=list)


def fit_slot_scorer(scorer: SlotScorer, caches: list[EvidenceCache],
                    settings: ScorerTraining, repeats: list[int] | None = None) -> None:
    """Train ``scorer`` in place (its word buffers are left as set); ``repeats``
    draws a cache's queries that many times more often (a small real split)."""
    repeats = repeats or [1] * len(caches)
    pool = [(c, q) for c, cache in enumerate(caches) for _ in range(repeats[c])
            for q in range(cache.num_queries)]
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    optim, sched = head_optimizer(scorer.parameters(), settings.lr, settings.weight_decay,
                                  settings.steps)
    scorer.train()
    bar = tqdm(range(settings.steps), desc="slot scorer", unit="step")
    for step in bar:
        picks = rng.choice(len(pool), size=min(settings.batch_queries, len(pool)),
                           replace=False)
        chosen = [pool[p] for p in picks]  # every query has the network's K slots
        evidence = torch.from_numpy(np.stack([
            caches[c].evidence[caches[c].query_start[q]:caches[c].query_start[q + 1]]
            for c, q in chosen])).float()  # (B, K, F)
        iou = np.stack([caches[c].iou[caches[c].query_start[q]:caches[c].query_start[q + 1]]
                        for c, q in chosen])
        if settings.soft_targets:
            target = torch.from_numpy(np.minimum(1.0, iou / settings.positive_iou)
                                      .astype(np.float32) ** 2)
        else:
            target = torch.from_numpy((iou >= settings.positive_iou).astype(np.float32))
        logits = scorer.member_logits(evidence)  # each member learns on its own
        loss = F.binary_cross_entropy_with_logits(logits, target.expand_as(logits))
        head_step(loss, optim, sched, settings.history, bar, step, settings.steps, 100)
    scorer.eval()
