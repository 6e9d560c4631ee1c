"""A short run on tiny generated scenes lowers the loss and raises held-out mIoU, with
every default hook at work: validation, log.jsonl, TensorBoard scalars, last.pt/best.pt."""

from __future__ import annotations

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tiny_scenes import tiny_config, tiny_samples

from query3d.model.checkpoint import load_checkpoint, load_model
from query3d.model.mrcosmo import build_model
from query3d.training.evaluation import evaluate, flat_metrics
from query3d.training.evaluation.predict import ModelPredictor
from query3d.training.trainer import Trainer
from query3d.training.trainer.data import TrainingSet
from query3d.training.trainer.objective import ReferringObjective
from query3d.training.trainer.run import seed_everything

TRAIN, VAL = tiny_samples(6, seed=0), tiny_samples(4, seed=1)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("learn")
    cfg = tiny_config(epochs=8, lr=0.01, batch_size=4, warmup_fraction=0.05, eval_every=4)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model)
    before = evaluate(ModelPredictor(model, cfg.model, cfg.decision), VAL, progress=False)

    def validate(net: torch.nn.Module) -> dict[str, float]:
        predictor = ModelPredictor(net, cfg.model, cfg.decision)
        return flat_metrics(evaluate(predictor, VAL, progress=False))

    trainer = Trainer(cfg, model, ReferringObjective(model, cfg), TrainingSet(TRAIN, cfg), out,
                      validate_fn=validate)
    trainer.train()
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {"out": out, "cfg": cfg, "trainer": trainer, "before": before, "rows": rows}


def test_loss_goes_down(run: dict) -> None:
    losses = [r["loss"] for r in run["rows"] if r["kind"] == "step"]
    assert len(losses) == 8 * 4  # 18 queries -> 4 global batches of 4 per epoch
    k = len(losses) // 5
    assert sum(losses[-k:]) / k < 0.85 * sum(losses[:k]) / k


def test_held_out_miou_improves(run: dict) -> None:
    vals = [r for r in run["rows"] if r["kind"] == "val"]
    assert [r["epoch"] for r in vals] == [4, 8]
    # An untrained network that fires nothing already "wins" every zero-target query,
    # so the overall gain is smaller than the gain on queries that name objects.
    assert vals[-1]["miou"] > run["before"]["miou"] + 0.05
    assert vals[-1]["st/miou"] > run["before"]["by_eval_type"]["st"]["miou"] + 0.2


def test_best_checkpoint_reproduces_its_validation(run: dict) -> None:
    out, trainer = run["out"], run["trainer"]
    assert (out / "last.pt").is_file() and (out / "best.pt").is_file()
    _, state = load_checkpoint(out / "best.pt", expected_config=run["cfg"])
    assert state["extra"]["epoch"] == trainer.best_epoch
    model, cfg = load_model(out / "best.pt")
    again = evaluate(ModelPredictor(model, cfg.model, cfg.decision), VAL, progress=False)
    assert again["miou"] == pytest.approx(trainer.best_value, abs=1e-9)
    _, last = load_checkpoint(out / "last.pt")
    assert (last["extra"]["epoch"], last["extra"]["step_in_epoch"]) == (8, 0)


def test_tensorboard_has_losses_lr_and_metrics(run: dict) -> None:
    events = EventAccumulator(str(run["out"] / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("train/loss", "train/bce", "train/dcma", "train/smooth_l1", "train/lr",
                "train/grad_norm", "val/miou", "val/acc@0.5", "val/st/miou"):
        assert tag in tags, tag
    assert len(events.Scalars("train/loss")) == 32
