"""The optimisation loop: epochs of global batches, one optimiser step per batch.

What a step computes is the ``objective``'s business (an ``nn.Module`` whose forward
takes a list of samples and returns named loss terms with ``"loss"`` the total, and
whose ``after_optimizer_step()`` does what must follow the weight update, such as the
memory-bank write). Under torchrun the objective is wrapped in DistributedDataParallel,
so one forward and one backward per step is all DDP sees however many samples the
objective loops over. Everything else (logging, progress, validation, checkpoints)
is a hook.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from query3d.config import Config
from query3d.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from query3d.training.trainer.distributed import (
    DistContext,
    all_reduce_mean,
    broadcast_buffers,
)
from query3d.training.trainer.hooks import (
    CheckpointHook,
    EvalHook,
    Hook,
    JsonlHook,
    ProgressHook,
    TensorBoardHook,
)
from query3d.training.trainer.optim import build_optimizer, build_scheduler
from query3d.training.trainer.sampler import ResumableSampler


def list_collate(items: list[Any]) -> list[Any]:
    """Batches stay lists: the network takes one scene and one query per forward. A
    scene's group of queries (``train.queries_per_scene``) is flattened into the batch."""
    return [x for item in items for x in (item if isinstance(item, list) else [item])]


def default_hooks() -> list[Hook]:
    return [ProgressHook(), EvalHook(), JsonlHook(), TensorBoardHook(), CheckpointHook()]


class Trainer:
    def __init__(
        self,
        cfg: Config,
        model: torch.nn.Module,
        objective: torch.nn.Module,
        train_set: Dataset,
        out_dir: str | Path,
        ctx: DistContext = DistContext(),
        validate_fn: Callable[[torch.nn.Module], dict] | None = None,
        hooks: Sequence[Hook] | None = None,
        max_steps: int = 0,
        class_names: Sequence[str] = (),
    ) -> None:
        self.cfg, self.model, self.ctx = cfg, model, ctx
        self.class_names = list(class_names)  # saved so a runtime can name its labels
        self.out_dir = Path(out_dir)
        self.validate_fn = validate_fn
        self.max_steps = max_steps
        tc = cfg.train
        if tc.batch_size % ctx.world_size:
            raise ValueError(f"train.batch_size {tc.batch_size} (global) does not split "
                             f"evenly over {ctx.world_size} processes")
        self.per_rank_batch = tc.batch_size // ctx.world_size
        self.train_set = train_set
        self.sampler = ResumableSampler(train_set, ctx.world_size, ctx.rank, shuffle=True,
                                        seed=tc.seed)
        self.loader_generator = torch.Generator()
        self.loader = DataLoader(train_set, batch_size=self.per_rank_batch,
                                 sampler=self.sampler, drop_last=True,
                                 num_workers=tc.num_workers, collate_fn=list_collate,
                                 generator=self.loader_generator)
        self.steps_per_epoch = self.sampler.num_samples // self.per_rank_batch
        if self.steps_per_epoch == 0:
            raise ValueError(f"the training set ({len(train_set)} samples) is smaller than "
                             f"one global batch ({tc.batch_size})")
        self.epochs = tc.epochs
        self.total_steps = self.epochs * self.steps_per_epoch
        self.objective = objective
        self.step_module: torch.nn.Module = objective
        if ctx.distributed:
            # Buffers are synced once at start, never per forward: the memory banks are
            # kept equal by identical updates, BatchNorm statistics at each epoch's end.
            no_forward_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers"
                               in inspect.signature(DistributedDataParallel).parameters
                               else {"broadcast_buffers": False})
            self.step_module = DistributedDataParallel(
                objective, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                find_unused_parameters=tc.ddp_find_unused, **no_forward_sync)
        own = {id(p) for p in model.parameters()}
        if any(id(p) not in own for p in objective.parameters()):
            raise ValueError("the objective has parameters outside the model; they would "
                             "be neither optimised nor saved")
        self.optimizer = build_optimizer(model, tc)
        self.scheduler = build_scheduler(self.optimizer, tc, self.total_steps)
        self.amp = tc.amp and ctx.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch = self.step_in_epoch = self.global_step = 0
        self.best_value: float | None = None
        self.best_epoch = -1
        self.step_losses: dict[str, float] = {}
        self.lr = self.current_lr  # the rate the last step used
        self.val_metrics: dict | None = None
        self.val_metrics_epoch = -1
        self.hooks = list(default_hooks() if hooks is None else hooks)
        for hook in self.hooks:
            hook.trainer = self

    @property
    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _call(self, moment: str) -> None:
        for hook in self.hooks:
            getattr(hook, moment)()

    # -- state -----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        extra = {"class_names": self.class_names, "epoch": self.epoch,
                 "step_in_epoch": self.step_in_epoch,
                 "global_step": self.global_step, "best_value": self.best_value,
                 "best_epoch": self.best_epoch, "scaler": self.scaler.state_dict(),
                 "val_metrics": {k: v for k, v in (self.val_metrics or {}).items()
                                 if isinstance(v, (int, float))}}
        save_checkpoint(path, self.model, self.cfg, self.optimizer, self.scheduler, extra)

    def resume(self, path: str | Path) -> None:
        """Continue exactly where ``path`` stopped: weights, memory banks, optimiser,
        schedule, scaler, RNG states and the position inside the epoch."""
        _, state = load_checkpoint(path, expected_config=self.cfg)
        extra = state.get("extra") or {}
        missing = [k for k in ("optimizer", "scheduler", "rng") if not state.get(k)]
        missing += [k for k in ("epoch", "step_in_epoch", "global_step") if k not in extra]
        if missing:
            raise CheckpointError(f"checkpoint {path} cannot be resumed: it has no "
                                  f"{', '.join(missing)} (a weights-only checkpoint)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scheduler.lr_lambdas[0].total_steps = self.total_steps  # --epochs may grow
        if extra.get("scaler"):
            self.scaler.load_state_dict(extra["scaler"])
        self.epoch, self.step_in_epoch = extra["epoch"], extra["step_in_epoch"]
        self.global_step = extra["global_step"]
        self.best_value = extra.get("best_value")
        self.best_epoch = extra.get("best_epoch", -1)
        restore_rng_state(state["rng"])

    # -- loop ------------------------------------------------------------------------
    def run_step(self, batch: list[Any]) -> None:
        self.step_module.train()
        self.lr = self.current_lr
        with torch.autocast(device_type=self.ctx.device.type, enabled=self.amp):
            terms = self.step_module(batch)
        loss = terms["loss"]
        if not self.amp and not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at epoch {self.epoch + 1}, "
                                     f"step {self.step_in_epoch + 1}: "
                                     + ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items()))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        grad_norm = torch.zeros(())
        if self.cfg.train.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                       self.cfg.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.objective.after_optimizer_step()
        names = sorted(terms)
        values = torch.stack([terms[k].detach().float().reshape(()) for k in names])
        values = all_reduce_mean(values).tolist()
        self.step_losses = dict(zip(names, values))
        self.step_losses["grad_norm"] = float(grad_norm)

    def train(self) -> None:
        """Run to the last epoch, or until ``max_steps`` optimiser steps (a resumable stop).

        An exception propagates without the end-of-run hooks: a step that failed must
        not overwrite ``last.pt`` with its half-updated state.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        if self.cfg.train.deterministic:
            # Threaded CPU scatter/index_put accumulate in a racy order; cuBLAS needs a
            # fixed workspace. Both change the last bits of a loss from run to run.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        try:
            self._call("before_train")
            self._loop()
            self._call("after_train")
        finally:
            torch.use_deterministic_algorithms(was_deterministic)

    def _loop(self) -> None:
        while self.epoch < self.epochs:
            self.sampler.set_epoch(self.epoch, skip=self.step_in_epoch * self.per_rank_batch)
            self.loader_generator.manual_seed(self.cfg.train.seed * 100_003 + self.epoch)
            if hasattr(self.train_set, "set_epoch"):  # augmentation draws depend on the epoch
                self.train_set.set_epoch(self.epoch)
            self._call("before_epoch")
            for batch in self.loader:
                self.run_step(batch)
                self.step_in_epoch += 1
                self.global_step += 1
                self._call("after_step")
                if self.max_steps and self.global_step >= self.max_steps:
                    broadcast_buffers(self.model)
                    return
            self.epoch += 1
            self.step_in_epoch = 0
            broadcast_buffers(self.model)  # validate and save what rank 0 holds
            self._call("after_epoch")
