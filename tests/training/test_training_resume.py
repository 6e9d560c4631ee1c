"""Exact resume: a run stopped part-way through an epoch and resumed from its last.pt
produces bit-identical losses, weights and memory banks to an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_scenes import tiny_config, tiny_samples

from query3d.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from query3d.model.encoders import TextEncoder
from query3d.model.mrcosmo import build_model
from query3d.training.trainer import Trainer
from query3d.training.trainer.data import TrainingSet
from query3d.training.trainer.hooks import CheckpointHook, JsonlHook
from query3d.training.trainer.objective import ReferringObjective
from query3d.training.trainer.run import seed_everything

SAMPLES = tiny_samples(2)  # 6 queries -> 3 steps of 2 per epoch, 6 steps in 2 epochs


def _trainer(out: Path, text: TextEncoder, max_steps: int = 0) -> Trainer:
    cfg = tiny_config(epochs=2, deterministic=True, warmup_fraction=0.34)
    cfg.data.augment.enabled = True  # the per-sample seeded draws must survive the resume too
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, text_encoder=text)
    return Trainer(cfg, model, ReferringObjective(model, cfg), TrainingSet(SAMPLES, cfg), out,
                   hooks=[JsonlHook(), CheckpointHook()], max_steps=max_steps)


def _steps(out: Path) -> list[tuple[int, float, float]]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [(r["global_step"], r["loss"], r["lr"]) for r in rows if r["kind"] == "step"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("resume")
    text = TextEncoder(tiny_config().model)
    full = _trainer(root / "full", text)
    full.train()
    first = _trainer(root / "cut", text, max_steps=2)  # stops inside epoch 1
    first.train()
    stopped_at = (first.epoch, first.step_in_epoch)
    del first
    torch.manual_seed(1234)  # the resumed run must not depend on the RNG it starts with
    second = _trainer(root / "cut", text)
    second.resume(root / "cut" / "last.pt")
    second.train()
    return {"full": full, "resumed": second, "root": root, "stopped_at": stopped_at,
            "text": text}


def test_resume_mid_epoch_is_bit_identical(runs: dict) -> None:
    assert runs["stopped_at"] == (0, 2)
    full, resumed, root = runs["full"], runs["resumed"], runs["root"]
    assert full.global_step == resumed.global_step == 2 * full.steps_per_epoch == 6
    expected, got = _steps(root / "full"), _steps(root / "cut")
    assert [s for s, _, _ in got] == list(range(1, 7))
    assert got == expected  # exact float equality of every step's loss and lr
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert len(full.model.memory.bank) > 0  # the banks were written, and compared above


def test_resume_refuses_a_checkpoint_of_another_network(runs: dict) -> None:
    other = tiny_config()
    other.model.dim = 8
    with pytest.raises(CheckpointError, match="model.dim: checkpoint 16, expected 8"):
        load_checkpoint(runs["root"] / "cut" / "last.pt", expected_config=other)


def test_weights_only_checkpoint_cannot_be_resumed(runs: dict, tmp_path: Path) -> None:
    bare = save_checkpoint(tmp_path / "bare.pt", runs["full"].model, runs["full"].cfg)
    trainer = _trainer(tmp_path / "again", runs["text"])
    with pytest.raises(CheckpointError, match="cannot be resumed: it has no optimizer, "
                                              "scheduler, epoch"):
        trainer.resume(bare)


def test_schedule_warms_up_then_decays(runs: dict) -> None:
    lrs = [lr for _, _, lr in _steps(runs["root"] / "full")]
    peak = runs["full"].cfg.train.lr
    assert lrs[0] == pytest.approx(peak / 2)  # round(0.34 * 6) = 2 warm-up steps
    assert lrs[1] == pytest.approx(peak) and lrs[2] == pytest.approx(peak)
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:]))  # cosine from step 3 on
    assert lrs[-1] > 0
