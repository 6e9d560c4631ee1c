"""The checkpoint format: round trip, atomic writes, and clear failures for missing,
corrupt, truncated, foreign-version and mismatched files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from query3d.config import load_config
from query3d.model.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    CheckpointNotFoundError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


class _Banked(torch.nn.Module):
    """Weights plus a buffer, the way the memory banks live in the network."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)
        self.register_buffer("bank", torch.zeros(5, 3))


def _saved(tmp_path: Path, **kw) -> tuple[Path, _Banked]:
    torch.manual_seed(0)
    model = _Banked()
    model.bank.normal_()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model.proj(torch.ones(2, 4)).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, load_config("small"),
                           optimizer=opt, extra={"epoch": 3, "step_in_epoch": 7}, **kw)
    return path, model


def test_round_trip_keeps_weights_buffers_optimizer_and_extra(tmp_path: Path) -> None:
    path, model = _saved(tmp_path)
    cfg, state = load_checkpoint(path, expected_config=load_config("small"))
    assert cfg.model.dim == load_config("small").model.dim
    assert state["format_version"] == FORMAT_VERSION
    fresh = _Banked()
    fresh.load_state_dict(state["model"])
    assert torch.equal(fresh.bank, model.bank) and torch.equal(fresh.proj.weight,
                                                               model.proj.weight)
    assert state["optimizer"]["state"][0]["exp_avg"].shape == (3, 4)
    assert state["extra"] == {"epoch": 3, "step_in_epoch": 7}
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any written file


def test_rng_state_round_trip_reproduces_draws(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file_fails_clearly(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_corrupt_file_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_non_plain_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"format_version": FORMAT_VERSION, "config": {}, "model": Path("x")}, path)
    with pytest.raises(CheckpointError, match="not plain data"):
        load_checkpoint(path)


def test_foreign_dict_and_version(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="missing format_version, config, model"):
        load_checkpoint(path)
    torch.save({"format_version": 99, "config": {}, "model": {}}, path)
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_checkpoint(path)


def test_config_mismatch_names_each_differing_key(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    other = load_config("small", overrides={"model": {"dim": 8, "heads": 1},
                                            "train": {"epochs": 999}})
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, expected_config=other)
    text = str(err.value)
    small = load_config("small").model
    assert f"model.dim: checkpoint {small.dim}, expected 8" in text
    assert f"model.heads: checkpoint {small.heads}, expected 1" in text
    assert "epochs" not in text  # training settings may change on resume
    assert text.count("model.") == 2


def test_write_failure_leaves_previous_checkpoint_intact(tmp_path: Path) -> None:
    path, model = _saved(tmp_path)
    before = path.read_bytes()

    with pytest.raises(Exception, match="(?i)pickle"):  # fails half-way through the write
        save_checkpoint(path, model, load_config("small"), extra={"hook": lambda: 0})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_release_checkpoint_is_smaller_and_loads_the_same_network(tmp_path) -> None:
    import torch

    from query3d.config import load_config
    from query3d.model.checkpoint import (
        load_checkpoint,
        load_model,
        save_checkpoint,
        save_release_checkpoint,
    )
    from query3d.model.mrcosmo import build_model

    cfg = load_config("small", {"model": {"dim": 16, "align_dim": 16, "num_queries": 4,
                                          "num_seeds": 8}})
    net = build_model(cfg.model)
    opt = torch.optim.AdamW(net.parameters())
    full = save_checkpoint(tmp_path / "full.pt", net, cfg, optimizer=opt,
                           extra={"class_names": ["box", "mug"], "epoch": 3})
    release = save_release_checkpoint(full, tmp_path / "release.pt")
    assert release.stat().st_size < 0.7 * full.stat().st_size
    _, state = load_checkpoint(release)
    assert state["optimizer"] is None and state["extra"]["class_names"] == ["box", "mug"]
    loaded, _ = load_model(release)
    for name, value in net.state_dict().items():
        got = loaded.state_dict()[name]
        assert got.dtype == value.dtype, name  # cast back to the network's own types
        if value.is_floating_point():
            assert torch.allclose(got, value, atol=2e-3, rtol=1e-3), name
        else:
            assert torch.equal(got, value), name


def test_init_from_copies_weights_and_banks_and_refuses_another_shape(tmp_path):
    from query3d.model.checkpoint import init_weights_from

    path, source = _saved(tmp_path)
    target = _Banked()
    assert not torch.equal(target.bank, source.bank)
    init_weights_from(target, path)
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(a, b), name

    class Wider(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(4, 7)
            self.register_buffer("bank", torch.zeros(5, 7))

    with pytest.raises(CheckpointError, match="(?s)does not fit this network.*proj.weight"):
        init_weights_from(Wider(), path)


def test_a_checkpoint_records_what_serving_needs(tmp_path: Path) -> None:
    """The point density a network was trained at travels in the checkpoint's deployment
    record (and from there into exported graphs), not through the training config."""
    from query3d.model.deployment import Deployment
    from query3d.model.mrcosmo import build_model

    cfg = load_config("small", {"data": {"max_points": 4321},
                                "decision": {"score_threshold": 0.35}})
    model = build_model(cfg.model, text_encoder=None)
    path = save_checkpoint(tmp_path / "c.pt", model, cfg, extra={"class_names": ["mug"]})
    loaded, payload = load_checkpoint(path)
    deployment = Deployment.from_checkpoint(loaded, payload)
    assert deployment.network_points == 4321 and deployment.class_names == ["mug"]
    assert deployment.decision.score_threshold == 0.35
    assert Deployment.from_dict(deployment.to_dict()) == deployment
    # a checkpoint from before the record takes the density from its training config
    del payload["deployment"]
    assert Deployment.from_checkpoint(loaded, payload).network_points == 4321
