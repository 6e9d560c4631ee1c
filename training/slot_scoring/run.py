"""`query3d train --task slot-scorer`: the slot scorer on top of a checkpoint that has a
semantic head. evidence cache (one frozen pass per query, stored under ``--cache``) ->
scorer training -> the source checkpoint written again with the scorer added and
``decision.slot_score: scorer`` (every other weight untouched; calibrate
``decision.score_threshold`` afterwards with ``query3d eval --score-thresholds``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from query3d.model.checkpoint import save_with_head
from query3d.model.heads.slot_scorer import evidence_size
from query3d.training.semantic.run import (
    Source,
    frozen_network,
    name_embeddings,
    reset_seeded,
    weights_key,
)
from query3d.training.slot_scoring.cache import EvidenceCache, cache_queries
from query3d.training.slot_scoring.fit import ScorerTraining, fit_slot_scorer
from query3d.training.trainer.data import open_split


def run_slot_scorer_training(checkpoint: str | Path, sources: list[Source],
                             out: str | Path, settings: ScorerTraining,
                             cache_dir: str | Path = "runs/cache", queries_per_scene: int = 5,
                             repeats: list[int] | None = None) -> dict[str, Any]:
    net, deployment = frozen_network(checkpoint, fresh=("slot_scorer",), semantic_head=True,
                                     slot_scorer=True)
    names = deployment.class_names
    table = name_embeddings(net, names)
    with torch.no_grad():
        net.slot_scorer.names.copy_(torch.stack([table[n] for n in names]))
    key = weights_key(net, "slot_scorer.mlp.")
    caches = []
    for s in sources:
        size = evidence_size(net.cfg.dim, len(names))  # the evidence's layout, too
        path = Path(cache_dir) / f"slots-{s.kind}-{Path(s.root).name}-{s.split}-" \
                                 f"{queries_per_scene}-{key}-{size}.npz"
        if path.is_file():
            caches.append(EvidenceCache.load(path))
            continue
        data = open_split(s.kind, s.root, s.split)
        cache = cache_queries(net, deployment, data, queries_per_scene,
                              desc=f"{s.kind} {s.split}")
        caches.append(cache)
        cache.save(path)
    reset_seeded(net.slot_scorer.mlp, settings.seed)
    fit_slot_scorer(net.slot_scorer, caches, settings, repeats)
    info = {"steps": settings.steps, "seed": settings.seed,
            "positive_iou": settings.positive_iou, "queries_per_scene": queries_per_scene,
            "queries": int(sum(c.num_queries for c in caches)),
            "sources": [{"kind": s.kind, "root": s.root, "split": s.split} for s in sources]}
    path = save_with_head(checkpoint, out, "slot_scorer", net.slot_scorer.state_dict(),
                          {"slot_scorer": True}, {"slot_scorer": info},
                          decision={"slot_score": "scorer", "score_threshold": 0.5})
    summary = {"checkpoint": str(path), **info,
               "final_loss": settings.history[-1]["loss"] if settings.history else None}
    Path(out).with_suffix(".json").write_text(json.dumps(summary, indent=1))
    return summary
