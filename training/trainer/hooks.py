"""Hooks: everything around the optimisation loop (Pointcept style).

The trainer only steps; hooks log, show progress, validate and save. Order matters and
is the order of the list: validation runs before the writers read its numbers and
before the checkpoint hook decides whether this epoch is the best one.
"""

from __future__ import annotations

import json
import math
import shutil
from typing import TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from query3d.training.trainer.trainer import Trainer


class Hook:
    """Override the moments you need; ``self.trainer`` is set before ``before_train``."""

    trainer: Trainer

    def before_train(self) -> None: ...

    def before_epoch(self) -> None: ...

    def after_step(self) -> None: ...

    def after_epoch(self) -> None: ...

    def after_train(self) -> None: ...


class ProgressHook(Hook):
    """A tqdm bar per epoch on the main process, with the running loss and lr."""

    def before_epoch(self) -> None:
        t = self.trainer
        self.bar = tqdm(total=t.steps_per_epoch, initial=t.step_in_epoch, leave=False,
                        desc=f"epoch {t.epoch + 1}/{t.epochs}", disable=not t.ctx.is_main,
                        dynamic_ncols=True)

    def after_step(self) -> None:
        t = self.trainer
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{t.step_losses['loss']:.4f}", lr=f"{t.lr:.2e}")

    def after_epoch(self) -> None:
        self.bar.close()

    def after_train(self) -> None:
        if hasattr(self, "bar"):
            self.bar.close()


class EvalHook(Hook):
    """Validate every ``eval_every`` epochs (all ranks take part; records are gathered)."""

    def after_epoch(self) -> None:
        t = self.trainer
        every = t.cfg.train.eval_every
        if t.validate_fn is None or every <= 0:
            return
        if t.epoch % every == 0 or t.epoch == t.epochs:
            t.val_metrics = t.validate_fn(t.model)
            t.val_metrics_epoch = t.epoch


class JsonlHook(Hook):
    """``log.jsonl`` in the run folder: one line per step, one per validation; plain data
    that tests and plots read without TensorBoard."""

    def before_train(self) -> None:
        """On resume, drop lines past the checkpoint's step: the interrupted run may have
        logged steps that the resumed run is about to repeat."""
        self.path = self.trainer.out_dir / "log.jsonl"
        if self.trainer.ctx.is_main and self.path.is_file():
            step = self.trainer.global_step
            lines = [line for line in self.path.read_text().splitlines()
                     if line and json.loads(line).get("global_step", 0) <= step]
            self.path.write_text("".join(line + "\n" for line in lines))

    def _write(self, record: dict) -> None:
        if self.trainer.ctx.is_main:
            with self.path.open("a") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")

    def after_step(self) -> None:
        t = self.trainer
        self._write({"kind": "step", "epoch": t.epoch, "step_in_epoch": t.step_in_epoch,
                     "global_step": t.global_step, "lr": t.lr, **t.step_losses})

    def after_epoch(self) -> None:
        t = self.trainer
        if t.val_metrics is not None and t.val_metrics_epoch == t.epoch:
            self._write({"kind": "val", "epoch": t.epoch, "global_step": t.global_step,
                         **{k: v for k, v in t.val_metrics.items()
                            if isinstance(v, (int, float))}})


class TensorBoardHook(Hook):
    """Scalars: every loss term, the learning rate, the gradient norm and the flat
    validation metrics, under the run folder's ``tb/``."""

    def before_train(self) -> None:
        self.writer = None
        if self.trainer.ctx.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.trainer.out_dir / "tb"),
                                        purge_step=self.trainer.global_step or None)

    def after_step(self) -> None:
        t = self.trainer
        if self.writer is None or t.global_step % max(1, t.cfg.train.log_every):
            return
        for key, value in t.step_losses.items():
            self.writer.add_scalar(f"train/{key}", value, t.global_step)
        self.writer.add_scalar("train/lr", t.lr, t.global_step)

    def after_epoch(self) -> None:
        t = self.trainer
        if self.writer is None or t.val_metrics is None or t.val_metrics_epoch != t.epoch:
            return
        for key, value in t.val_metrics.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"val/{key}", value, t.global_step)
        self.writer.flush()

    def after_train(self) -> None:
        if self.writer is not None:
            self.writer.close()


class CheckpointHook(Hook):
    """``last.pt`` every epoch (and every ``checkpoint_every`` steps, and when the run
    stops early); ``best.pt`` whenever the validation ``best_metric`` improves."""

    def before_train(self) -> None:
        self.saved_at = self.trainer.global_step

    def _save_last(self) -> None:
        t = self.trainer
        if t.ctx.is_main:
            t.save(t.out_dir / "last.pt")
        self.saved_at = t.global_step

    def after_step(self) -> None:
        every = self.trainer.cfg.train.checkpoint_every
        if every > 0 and self.trainer.global_step % every == 0:
            self._save_last()

    def after_epoch(self) -> None:
        t = self.trainer
        improved = False
        if t.val_metrics is not None and t.val_metrics_epoch == t.epoch:
            value = t.val_metrics.get(t.cfg.train.best_metric)
            if value is None:
                raise ValueError(f"train.best_metric {t.cfg.train.best_metric!r} is not a "
                                 f"validation key; keys: {', '.join(sorted(t.val_metrics))}")
            improved = t.best_value is None or value > t.best_value
            if improved:
                t.best_value, t.best_epoch = float(value), t.epoch
        self._save_last()
        if improved and t.ctx.is_main:
            shutil.copyfile(t.out_dir / "last.pt", t.out_dir / "best.pt")

    def after_train(self) -> None:
        if self.saved_at != self.trainer.global_step:
            self._save_last()
