"""Train the tiny network for a few steps and save every rank's final state.

Run as ``python ddp_worker.py OUT`` (one process) or under ``torchrun
--nproc_per_node=2`` (DDP on gloo); ``test_training_ddp.py`` compares the two.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tiny_scenes import tiny_config, tiny_samples

from query3d.model.mrcosmo import build_model
from query3d.training.trainer import Trainer
from query3d.training.trainer.data import TrainingSet
from query3d.training.trainer.distributed import cleanup_distributed, init_distributed
from query3d.training.trainer.hooks import JsonlHook
from query3d.training.trainer.objective import ReferringObjective
from query3d.training.trainer.run import seed_everything


class SceneQueries(list):
    """Samples that tell their scene (as the real datasets do): groupable by scene."""

    def scene_of(self, index: int) -> str:
        return self[index].scene.scene_id


def main(out: Path, grouped: bool = False) -> None:
    """``grouped``: scene groups of unequal size (2 + 1 queries), so ranks hold different
    numbers of queries in a step."""
    torch.set_num_threads(1)
    cfg = (tiny_config(epochs=1, batch_size=2, queries_per_scene=2, deterministic=True)
           if grouped else tiny_config(epochs=1, batch_size=4, deterministic=True))
    ctx = init_distributed("cpu")
    try:
        seed_everything(cfg.train.seed)
        model = build_model(cfg.model)
        torch.save(model.state_dict(), out / f"init{ctx.rank}.pt")
        trainer = Trainer(cfg, model, ReferringObjective(model, cfg),
                          TrainingSet(SceneQueries(tiny_samples(4)), cfg), out, ctx,
                          hooks=[JsonlHook()])
        trainer.train()
        torch.save(model.state_dict(), out / f"rank{ctx.rank}.pt")
        (out / f"rank{ctx.rank}.json").write_text(json.dumps(
            {"world_size": ctx.world_size, "steps": trainer.global_step,
             "per_rank_batch": trainer.per_rank_batch, "losses": trainer.step_losses}))
    finally:
        cleanup_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]), grouped="--grouped" in sys.argv[2:])
