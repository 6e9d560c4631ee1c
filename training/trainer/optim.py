"""AdamW with a cosine schedule after a linear warm-up (MR-COSMO Implementation Details,
following PTv3: 1% of the training steps warm up)."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from query3d.config import TrainConfig


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; biases and norm gains (1-D parameters) get no weight decay: decaying a
    LayerNorm gain towards 0 only fights the normalisation."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr)


class WarmupCosine:
    """lr factor: linear from 1/warmup to 1 over ``warmup`` steps, then cosine to
    ``final_factor``. A class (not a closure) so LambdaLR saves and restores its fields."""

    def __init__(self, total_steps: int, warmup_fraction: float,
                 final_factor: float = 0.0) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        self.total_steps = int(total_steps)
        self.warmup_steps = max(1, round(warmup_fraction * total_steps))
        self.final_factor = float(final_factor)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_factor + (1.0 - self.final_factor) * cosine


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                    total_steps: int) -> LambdaLR:
    return LambdaLR(optimizer, WarmupCosine(total_steps, cfg.warmup_fraction,
                                            cfg.final_lr_factor))


def head_optimizer(params, lr: float, weight_decay: float, steps: int,
                   warmup_fraction: float = 0.05) -> tuple[torch.optim.AdamW, LambdaLR]:
    """AdamW + warm-up cosine for a head trained on stored features (semantic head,
    slot scorer): the same schedule as the network's, stepped once per batch."""
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optim, LambdaLR(optim, WarmupCosine(steps, warmup_fraction))


def head_step(loss: torch.Tensor, optim: torch.optim.Optimizer, sched: LambdaLR,
              history: list[dict], bar, step: int, total: int, every: int) -> None:
    """One optimiser step of a stored-feature head, its loss logged every ``every`` steps
    (and at the last) into ``history`` and the progress bar."""
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    sched.step()
    if step % every == 0 or step == total - 1:
        history.append({"step": step, "loss": loss.item()})
        bar.set_postfix(loss=f"{loss.item():.3f}")


def repeated_pool(sizes: list[int], repeats: list[int] | None = None
                  ) -> list[tuple[int, int]]:
    """(store, item) pairs a stored-feature head draws its batches from, each store's
    items listed ``repeats[store]`` times (a small real split beside many synthetic
    scenes is drawn that much more often)."""
    repeats = repeats or [1] * len(sizes)
    return [(c, i) for c, size in enumerate(sizes) for _ in range(repeats[c])
            for i in range(size)]
