"""``query3d train``: config + data folder -> run folder, in one process or under torchrun."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from query3d.config import load_config, to_dict
from query3d.model.checkpoint import init_weights_from
from query3d.model.mrcosmo import build_model
from query3d.training.evaluation.evaluate import evaluate, flat_metrics
from query3d.training.evaluation.predict import ModelPredictor
from query3d.training.trainer.data import TrainingSet, open_split
from query3d.training.trainer.distributed import cleanup_distributed, init_distributed
from query3d.training.trainer.groups import scene_key, spread_indices
from query3d.training.trainer.objective import ReferringObjective
from query3d.training.trainer.trainer import Trainer


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class SpreadSubset(Sequence):
    """``count`` samples spread evenly over a split: every scene region, a smaller budget
    (ablations, quick recipes) rather than the first scenes only."""

    def __init__(self, samples: Sequence, count: int) -> None:
        self.samples = samples
        self.index = np.asarray(spread_indices(len(samples), count), dtype=np.int64)
        self.class_names = _class_names(samples)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        return self.samples[int(self.index[i])]

    def scene_of(self, i: int) -> str:
        return scene_key(self.samples, int(self.index[i]))


class MixedSamples(Sequence):
    """Several splits as one: each source ``repeat`` times, in order (the sampler
    shuffles). Class names are the first source's (the network's label set)."""

    def __init__(self, sources: list[tuple[Sequence, int]]) -> None:
        self.sources = sources
        self.offsets = np.cumsum([0] + [len(s) * r for s, r in sources])
        self.class_names = _class_names(sources[0][0])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        samples, _ = self.sources[k]
        return samples[(i - int(self.offsets[k])) % len(samples)]

    def scene_of(self, i: int) -> str:
        """Source, repeat and scene: each repeat of a source groups on its own."""
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        samples, _ = self.sources[k]
        repeat, inner = divmod(i - int(self.offsets[k]), len(samples))
        return f"{k}/{repeat}/{scene_key(samples, inner)}"


def _class_names(samples: Any) -> list[str]:
    names = getattr(samples, "class_names", None)
    return list(names) if names else list(samples[0].scene.class_names)


def run_training(
    config: str | Path,
    data: str | Path,
    out: str | Path,
    epochs: int | None = None,
    resume: bool = False,
    max_steps: int = 0,
    device: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train; returns a JSON-able summary (the same on every rank, ``is_main`` marks rank 0).

    A run folder that already holds ``last.pt`` is only continued with ``resume=True``,
    never silently overwritten.
    """
    train_over: dict[str, Any] = {}
    if epochs is not None:
        train_over["epochs"] = epochs
    if device is not None:
        train_over["device"] = device
    merged: dict[str, Any] = {"data": {"root": str(data)}}
    if train_over:
        merged["train"] = train_over
    for section, values in (overrides or {}).items():
        merged.setdefault(section, {}).update(values)
    cfg = load_config(config, merged)
    out = Path(out)
    last = out / "last.pt"
    if resume and not last.is_file():
        raise ValueError(f"--resume: {last} does not exist (nothing to continue)")
    if not resume and last.is_file():
        raise ValueError(f"{out} already holds last.pt; pass --resume to continue it or "
                         "choose another --out")
    ctx = init_distributed(cfg.train.device)
    try:
        seed_everything(cfg.train.seed)
        model = build_model(cfg.model)
        if cfg.train.init_from and not resume:
            init_weights_from(model, cfg.train.init_from)
        model = model.to(ctx.device)
        cap = cfg.data.max_points
        train_samples = open_split(cfg.data.kind, data, cfg.data.train_split, cap)
        if cfg.data.mix:
            train_samples = MixedSamples(
                [(train_samples, 1)] + [(open_split(s.kind, s.root, s.split, cap), s.repeat)
                                        for s in cfg.data.mix])
        if cfg.train.queries_per_scene == 1 and \
                0 < cfg.train.train_max_samples < len(train_samples):  # else: groups
            train_samples = SpreadSubset(train_samples, cfg.train.train_max_samples)
        validate = None
        if cfg.train.eval_every > 0:
            val_samples = open_split(cfg.data.kind, data, cfg.data.val_split, cap)

            def validate(net: torch.nn.Module) -> dict[str, float]:
                predictor = ModelPredictor(net, cfg.model, cfg.decision)
                return flat_metrics(evaluate(predictor, val_samples,
                                             cfg.train.eval_max_samples, ctx))

        trainer = Trainer(cfg, model, ReferringObjective(model, cfg),
                          TrainingSet(train_samples, cfg), out, ctx, validate,
                          max_steps=max_steps, class_names=_class_names(train_samples))
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        if resume:
            trainer.resume(last)
        start = time.perf_counter()
        trainer.train()
        return {
            "is_main": ctx.is_main,
            "world_size": ctx.world_size,
            "device": str(ctx.device),
            "epoch": trainer.epoch,
            "global_step": trainer.global_step,
            "steps_per_epoch": trainer.steps_per_epoch,
            "finished": trainer.epoch >= trainer.epochs,
            "wall_s": time.perf_counter() - start,
            "last_losses": trainer.step_losses,
            "best_metric": cfg.train.best_metric,
            "best_value": trainer.best_value,
            "best_epoch": trainer.best_epoch,
            "val_metrics": trainer.val_metrics,
            "run_dir": str(out),
        }
    finally:
        cleanup_distributed()
