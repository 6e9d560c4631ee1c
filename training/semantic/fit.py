"""Contrastive training of the semantic head on stored superpoint statistics.

Each step draws a batch of scenes; every labelled superpoint of them is pulled to its
class name's embedding and pushed from every other name present in the batch (names held
out as novel are neither targets nor negatives, and their superpoints are dropped: the
head never sees them). The text side stays frozen, so the space the head maps into is the
one unseen names are embedded in at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from query3d.model.heads.semantic import SemanticHead
from query3d.training.semantic.cache import StatsCache
from query3d.training.trainer.optim import head_optimizer, head_step, repeated_pool


@dataclass
class HeadTraining:
    steps: int = 1500
    batch_scenes: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.01
    min_purity: float = 0.6  # superpoints mixing classes more than this teach noise
    use_image: bool = True  # False: the "names only" ablation (no 2D evidence)
    seed: int = 0
    held_out: tuple[str, ...] = ()  # novel names: never targets, negatives or points
    # soft targets: a superpoint's target spreads over the batch's names by how alike the
    # names' embeddings are (temperature; 0 = one-hot), so the head keeps the text space's
    # geometry instead of collapsing each name to its own corner
    text_smoothing: float = 0.0
    align_weight: float = 0.0  # plus 1 - cos(embedding, its name's embedding)
    history: list[dict] = field(default_factory=list)


def _unify(caches: list[StatsCache]) -> tuple[list[str], list[np.ndarray]]:
    """One vocabulary over several caches and each cache's labels mapped into it."""
    names: list[str] = []
    for cache in caches:
        names += [n for n in cache.names if n not in names]
    labels = []
    for cache in caches:
        remap = np.array([names.index(n) for n in cache.names] + [-1], np.int64)
        labels.append(remap[np.where(cache.label < 0, len(cache.names), cache.label)])
    return names, labels


def fit_semantic_head(head: SemanticHead, caches: list[StatsCache],
                      name_embeddings: dict[str, torch.Tensor],
                      settings: HeadTraining, repeats: list[int] | None = None) -> list[str]:
    """Train ``head`` in place; returns the names it was trained on. ``repeats`` draws a
    cache's scenes that many times more often: 34 real scans beside 2000 synthetic scenes
    are otherwise a quarter of one scene per batch, and the real classes (a Kinect's cans
    and tins) are read as the synthetic scenes' boxes."""
    names, labels = _unify(caches)
    labelled = {names[i] for lab in labels for i in np.unique(lab[lab >= 0])}
    trained = [n for n in names if n in labelled and n not in settings.held_out]
    if len(trained) < 2:
        raise ValueError(f"contrastive training needs at least two names; have {trained}")
    missing = [n for n in trained if n not in name_embeddings]
    if missing:
        raise ValueError(f"no embedding for class names {missing}")
    table = torch.stack([name_embeddings[n] for n in trained])
    to_trained = np.array([trained.index(n) if n in trained else -1 for n in names] + [-1])
    scenes = repeated_pool([cache.num_scenes for cache in caches], repeats)
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    optim, sched = head_optimizer(head.parameters(), settings.lr, settings.weight_decay,
                                  settings.steps)
    head.train()
    bar = tqdm(range(settings.steps), desc="semantic head", unit="step")
    for step in bar:
        picks = rng.choice(len(scenes), size=min(settings.batch_scenes, len(scenes)),
                           replace=False)
        feats, targets = [], []
        for p in picks:
            c, i = scenes[p]
            cache = caches[c]
            rows = np.arange(cache.scene_start[i], cache.scene_start[i + 1])
            target = to_trained[np.where(labels[c][rows] < 0, -1, labels[c][rows])]
            rows = rows[(target >= 0) & (cache.purity[rows] >= settings.min_purity)]
            if len(rows):
                feats.append(cache.stats(rows))
                targets.append(to_trained[labels[c][rows]])
        if not feats:
            continue
        target = torch.from_numpy(np.concatenate(targets))
        present = torch.unique(target)  # negatives: the names of this batch
        local = torch.searchsorted(present, target)
        embeddings = torch.cat([head(s, settings.use_image) for s in feats])
        names = table[present]
        if settings.text_smoothing > 0:
            soft = torch.softmax(names @ names.T / settings.text_smoothing, dim=-1)[local]
            loss = F.cross_entropy(head.logits(embeddings, names), soft)
        else:
            loss = F.cross_entropy(head.logits(embeddings, names), local)
        if settings.align_weight > 0:
            loss = loss + settings.align_weight * (
                1 - (embeddings * names[local]).sum(-1)).mean()
        head_step(loss, optim, sched, settings.history, bar, step, settings.steps, 50)
    head.eval()
    return trained
