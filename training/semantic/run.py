"""`query3d train --task semantic`: the semantic head on top of a trained checkpoint.

cache (one frozen encoder pass per scene, stored under ``--cache``, reused while the
checkpoint's encoder weights are the same) -> contrastive head training -> the source
checkpoint written again with the head added (referring weights untouched).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch

from query3d.model.checkpoint import load_checkpoint, save_with_semantic_head
from query3d.model.deployment import Deployment
from query3d.model.heads.semantic import SemanticHead, embed_class_names
from query3d.model.mrcosmo import MRCosmo, build_model
from query3d.training.semantic.cache import StatsCache, cache_scenes
from query3d.training.semantic.fit import HeadTraining, fit_semantic_head
from query3d.training.semantic.scenes import MOSD_CLASSES, labelled_scenes


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str  # tabletop | mosd
    root: str
    split: str
    limit: int = 0  # scenes (0 = all)

    @classmethod
    def parse(cls, text: str) -> Source:
        """KIND:ROOT:SPLIT[:LIMIT], e.g. tabletop:data/tabletop:train:800."""
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"source {text!r}: expected KIND:ROOT:SPLIT[:LIMIT]")
        return cls(parts[0], parts[1], parts[2], int(parts[3]) if len(parts) == 4 else 0)


def frozen_network(checkpoint: str | Path, fresh: tuple[str, ...] = ("semantic",),
                   **model_flags: Any) -> tuple[MRCosmo, Deployment]:
    """The checkpoint's network in eval mode, with ``model_flags`` turned on (default
    ``semantic_head``); the ``fresh`` heads are left out (they are to be trained, and may
    have another shape than the checkpoint's), every other weight must load."""
    cfg, state = load_checkpoint(checkpoint)
    model_cfg = dataclasses.replace(cfg.model, **(model_flags or {"semantic_head": True}))
    net = build_model(model_cfg)
    prefixes = tuple(f"{name}." for name in fresh)  # not loaded: trained afresh
    missing, unexpected = net.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()
         if not k.startswith(prefixes)}, strict=False)
    missing = [k for k in missing if not k.startswith(prefixes)]
    if unexpected or missing:
        heads = sorted({k.split(".")[0] for k in missing})
        raise ValueError(f"{checkpoint} does not fit this network: it has no weights for "
                         f"{', '.join(heads) or '-'} (a head read here must be trained "
                         "first, e.g. `query3d train --task semantic`); missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}")
    deployment = Deployment.from_checkpoint(cfg, state)
    deployment.model = model_cfg
    return net.eval(), deployment


def reset_seeded(module: torch.nn.Module, seed: int) -> None:
    """Fresh, seeded weights for a head about to be trained (one run = one seed)."""
    torch.manual_seed(seed)
    for part in module.modules():
        if hasattr(part, "reset_parameters"):
            part.reset_parameters()


WORD_TABLES = ("slot_scorer.names", "slot_scorer.colour_names")


def weights_key(net: MRCosmo, skip: str) -> str:
    """A short hash of the network's weights except those under ``skip`` (the head being
    trained): stored features are reused while it is the same. The word tables are left
    out: they are the text encoder's output for fixed words (the encoder's weights are
    hashed), and their last bits change with the number of threads, so a run with
    ``OMP_NUM_THREADS=1`` did not find the evidence a run with 2 had stored."""
    digest = hashlib.blake2b(digest_size=8)
    for name, tensor in sorted(net.state_dict().items()):
        if not name.startswith(skip) and name not in WORD_TABLES:
            digest.update(name.encode())
            digest.update(tensor.detach().half().numpy().tobytes())
    return digest.hexdigest()


def cached_stats(net: MRCosmo, deployment: Deployment, source: Source,
                 cache_dir: Path) -> StatsCache:
    key = weights_key(net, "semantic.")
    path = cache_dir / f"{source.kind}-{Path(source.root).name}-{source.split}-" \
                       f"{source.limit or 'all'}-{key}.npz"
    if path.is_file():
        return StatsCache.load(path)
    from query3d.training.data.synthetic.catalogue import CLASS_NAMES

    names = list(MOSD_CLASSES) if source.kind == "mosd" else list(CLASS_NAMES)
    scenes = labelled_scenes(source.kind, source.root, source.split, source.limit)
    cache = cache_scenes(net, deployment, scenes, names, total=source.limit or None,
                         desc=f"{source.kind} {source.split}")
    cache.save(path)
    return cache


def name_embeddings(net: MRCosmo, names: list[str]) -> dict[str, torch.Tensor]:
    with torch.inference_mode():
        table = embed_class_names(net.encode_text, names)
    return {n: table[i] for i, n in enumerate(names)}


def run_semantic_training(checkpoint: str | Path, sources: list[Source], out: str | Path,
                          settings: HeadTraining, cache_dir: str | Path = "runs/cache",
                          repeats: list[int] | None = None) -> dict[str, Any]:
    net, deployment = frozen_network(checkpoint)
    caches = [cached_stats(net, deployment, s, Path(cache_dir)) for s in sources]
    names = sorted({n for c in caches for n in c.names})
    head: SemanticHead = net.semantic
    reset_seeded(head, settings.seed)
    head.logit_scale.data.fill_(math.log(1 / 0.07))
    repeats = repeats or [1] * len(sources)
    trained = fit_semantic_head(head, caches, name_embeddings(net, names), settings,
                                repeats)
    semantic = {"trained_names": trained, "held_out": list(settings.held_out),
                "use_image": settings.use_image, "steps": settings.steps,
                "seed": settings.seed, "text_smoothing": settings.text_smoothing,
                "align_weight": settings.align_weight,
                "sources": [{**dataclasses.asdict(s), "repeat": r}
                            for s, r in zip(sources, repeats)]}
    path = save_with_semantic_head(checkpoint, out, head.state_dict(), semantic)
    summary = {"checkpoint": str(path), **semantic,
               "final_loss": settings.history[-1]["loss"] if settings.history else None,
               "superpoints": int(sum(len(c.label) for c in caches)),
               "scenes": int(sum(c.num_scenes for c in caches)),
               # the slot scorer reads the semantic head: one trained on the old head is stale
               "slot_scorer_stale": net.slot_scorer is not None}
    Path(out).with_suffix(".json").write_text(json.dumps(summary, indent=1))
    return summary

