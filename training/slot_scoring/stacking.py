"""Stacked semantic evidence for the slot scorer (k-fold stacking).

The scorer reads the semantic head's naming of each slot's mask, and it trains on the
scenes that head trained on. There the naming is cleaner than on a new scan: the bundled
head names 91 % of the object superpoints of its 34 real train scans right, and 79 % of
the same scans when a head fitted without them reads them. A scorer trained on the
former learns to trust the names more than a new scan warrants, and a right object whose
name reads wrong on a new scan scores too low to fire.

So the scenes the head trained on are dealt into folds, the head is refitted once per
fold with the recipe the checkpoint records (``extra.semantic``) on every scene but the
fold's, and each training query's evidence is read with the head of its scene's fold: the
scorer learns the names as a new scan gets them. The shipped head is not changed; scenes
outside the folds (val splits, other kinds) keep its evidence.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from query3d.data.sample import Sample
from query3d.model.checkpoint import load_checkpoint
from query3d.model.deployment import Deployment
from query3d.model.mrcosmo import MRCosmo
from query3d.training.semantic.fit import HeadTraining, fit_semantic_head
from query3d.training.semantic.run import (
    Source,
    cached_stats,
    frozen_network,
    name_embeddings,
    reset_seeded,
)
from query3d.training.semantic.scenes import labelled_scene_ids
from query3d.training.slot_scoring.cache import EvidenceCache, scene_evidence, scene_groups
from query3d.training.slot_scoring.calibrate import fold_scans

RECIPE_FIELDS = ("steps", "seed", "use_image", "text_smoothing", "align_weight")


def base_scan(scene: str) -> str:
    """A composite (``base+pasted+...~n``) is seen through its base scan's camera."""
    return scene.split("~")[0].split("+")[0]


def semantic_recipe(checkpoint: str | Path) -> tuple[list[Source], list[int], HeadTraining]:
    """The sources, repeats and settings the checkpoint's semantic head was trained with."""
    _, state = load_checkpoint(checkpoint)
    recipe = (state.get("extra") or {}).get("semantic") or {}
    if not recipe.get("sources"):
        raise ValueError(f"{checkpoint}: no semantic head training recorded (extra.semantic)"
                         "; stacking refits the head with its recipe: train it with "
                         "`query3d train --task semantic` first")
    sources = [Source(s["kind"], s["root"], s["split"], int(s.get("limit", 0)))
               for s in recipe["sources"]]
    repeats = [int(s.get("repeat", 1)) for s in recipe["sources"]]
    settings = HeadTraining(**{k: recipe[k] for k in RECIPE_FIELDS if k in recipe},
                            held_out=tuple(recipe.get("held_out", ())))
    return sources, repeats, settings


class FoldHeads:
    """Semantic heads, each fitted without one fold's scenes: the scenes of the
    checkpoint's semantic ``kinds`` sources are dealt into ``folds`` (``fold_scans``,
    ``seed``); its other sources train every fold's head. The deal is known at once, the
    heads are fitted when first needed (a few minutes each on 2 cores)."""

    def __init__(self, checkpoint: str | Path, folds: int, kinds: Sequence[str] = ("mosd",),
                 seed: int = 0, cache_dir: str | Path = "runs/cache") -> None:
        self.checkpoint, self.cache_dir = checkpoint, Path(cache_dir)
        self.sources, self.repeats, self.settings = semantic_recipe(checkpoint)
        self.ids = [labelled_scene_ids(s.kind, s.root, s.split, s.limit)
                    if s.kind in kinds else [] for s in self.sources]
        if not any(self.ids):
            raise ValueError(f"stacking: the semantic head trained on no source of kind "
                             f"{', '.join(kinds)} ({', '.join(s.kind for s in self.sources)})")
        dealt = fold_scans(self.ids, [True] * len(self.ids), folds, seed)
        self.fold_of = {scene: f for f, scenes in enumerate(dealt) for scene in scenes}
        self.folds = folds
        self._states: list[dict[str, torch.Tensor]] = []

    def fold_of_scene(self, scene: str) -> int | None:
        """The fold whose head never saw ``scene`` (a composite: its base scan's), None
        for a scene no head trained on."""
        return self.fold_of.get(base_scan(scene))

    @property
    def states(self) -> list[dict[str, torch.Tensor]]:
        """Per fold, the head's weights (fitted on first use)."""
        if not self._states:
            self._states = self._fit()
        return self._states

    def _fit(self) -> list[dict[str, torch.Tensor]]:
        net, deployment = frozen_network(self.checkpoint)
        caches = [cached_stats(net, deployment, s, self.cache_dir) for s in self.sources]
        table = name_embeddings(net, sorted({n for c in caches for n in c.names}))
        states = []
        for fold in tqdm(range(self.folds), desc="semantic head per fold", unit="fold"):
            kept = [c.scenes([i for i, scene in enumerate(names) if self.fold_of[scene] != fold])
                    if names else c for c, names in zip(caches, self.ids)]
            head = net.semantic
            reset_seeded(head, self.settings.seed)
            head.logit_scale.data.fill_(math.log(1 / 0.07))
            fit_semantic_head(head, kept, table, copy.deepcopy(self.settings), self.repeats)
            states.append({k: v.detach().clone() for k, v in head.state_dict().items()})
        return states

    def covers(self, data: Sequence[Sample], queries_per_scene: int) -> bool:
        """Whether any scene of ``data`` is one a fold head left out (else its evidence
        is the unstacked one)."""
        return any(self.fold_of_scene(s) is not None
                   for s, _ in scene_groups(data, queries_per_scene))


def stacked_cache(net: MRCosmo, deployment: Deployment, data: Sequence[Sample],
                  queries_per_scene: int, heads: FoldHeads, desc: str = "slot evidence"
                  ) -> EvidenceCache:
    """``cache_queries``' evidence with each scene's semantic naming from the head that
    never saw it (scenes outside the folds: the network's own head), in the same order."""
    states = heads.states  # fitted first (with gradients), outside inference mode
    shipped: dict[str, Any] = copy.deepcopy(net.semantic.state_dict())
    groups = scene_groups(data, queries_per_scene)
    parts: dict[str, EvidenceCache] = {}
    try:
        for fold in [None, *range(len(states))]:
            mine = [(s, picks) for s, picks in groups if heads.fold_of_scene(s) == fold]
            if not mine:
                continue
            net.semantic.load_state_dict(shipped if fold is None else states[fold])
            label = "shipped head" if fold is None else f"fold {fold}"
            for scene, picks in tqdm(mine, desc=f"{desc} ({label})", unit="scene"):
                parts[scene] = scene_evidence(net, deployment, data, picks)
    finally:
        net.semantic.load_state_dict(shipped)
    if not parts:
        raise ValueError("no queries to cache")
    return EvidenceCache.concat([parts[s] for s, _ in groups])
