"""Train the slot scorer on stored evidence: a slot is "answers" when its mask covers a
target with IoU >= ``positive_iou`` (a target covered twice has two positives; the
decoder's de-duplication keeps one), and every slot of a zero-target query is negative.

Each slot is scored on its own (binary cross-entropy), but a query is answered by its
best-scored slot: ``listwise`` > 0 adds the query's choice among its slots and "none"
(a softmax over the K logits and a fixed 0, i.e. probability 0.5), the mass on its
positive slots, or on "none" for a zero-target query; it teaches the order of the slots
and that the right one should clear an even chance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from query3d.model.heads.slot_scorer import SlotScorer
from query3d.training.slot_scoring.cache import EvidenceCache
from query3d.training.trainer.optim import head_optimizer, head_step, repeated_pool


@dataclass
class ScorerTraining:
    steps: int = 4000
    batch_queries: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    positive_iou: float = 0.5
    soft_targets: bool = False  # target = min(1, IoU / positive_iou)^2 instead of 0 / 1
    listwise: float = 0.0  # weight of the choice among a query's slots and "none"
    zero_target_weight: float = 1.0  # a zero-target query's slots weigh this many times
    seed: int = 0
    history: list[dict] = field(default_factory=list)


def fit_slot_scorer(scorer: SlotScorer, caches: list[EvidenceCache],
                    settings: ScorerTraining, repeats: list[int] | None = None) -> None:
    """Train ``scorer`` in place (its word buffers are left as set); ``repeats``
    draws a cache's queries that many times more often (a small real split)."""
    pool = repeated_pool([cache.num_queries for cache in caches], repeats)
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
        zero = np.array([caches[c].zero_target[q] for c, q in chosen])
        weight = torch.from_numpy(np.where(zero, settings.zero_target_weight, 1.0)
                                  .astype(np.float32))[:, None]  # (B, 1): each query's slots
        loss = F.binary_cross_entropy_with_logits(logits, target.expand_as(logits), weight)
        if settings.listwise > 0:
            loss = loss + settings.listwise * choice_loss(logits, iou >= settings.positive_iou)
        head_step(loss, optim, sched, settings.history, bar, step, settings.steps, 100)
    scorer.eval()


def choice_loss(logits: torch.Tensor, positive: np.ndarray) -> torch.Tensor:
    """Cross-entropy of each query's choice among its K slots and "none" (logit 0):
    logits (..., B, K), positive (B, K) -> the mean over members and queries of
    -log P(a positive slot), or -log P(none) where a query has no positive."""
    pos = torch.from_numpy(positive)
    choices = torch.cat([logits, logits.new_zeros(logits.shape[:-1] + (1,))], dim=-1)
    right = torch.cat([pos, ~pos.any(dim=-1, keepdim=True)], dim=-1)
    log_p = choices.log_softmax(dim=-1)
    return -torch.logsumexp(log_p.masked_fill(~right, float("-inf")), dim=-1).mean()
