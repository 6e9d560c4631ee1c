"""DDP on CPU (gloo, two processes under torchrun) ends with the same weights and memory
banks as one process on the same global batch, and both ranks hold identical banks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import ddp_worker
import pytest
import torch

HERE = Path(__file__).resolve().parent
WORKER = HERE / "ddp_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str]) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(HERE))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict:
    single, ddp = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("ddp")
    ddp_worker.main(single)  # one process: here, no torchrun environment
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
          f"--master_port={_free_port()}", str(WORKER), str(ddp)])
    load = lambda path: torch.load(path, weights_only=True)  # noqa: E731
    return {"init": load(single / "init0.pt"), "single": load(single / "rank0.pt"),
            "rank0": load(ddp / "rank0.pt"), "rank1": load(ddp / "rank1.pt"),
            "info": [json.loads((p / f"rank{r}.json").read_text())
                     for p, r in ((single, 0), (ddp, 0), (ddp, 1))]}


def test_runs_took_the_same_global_steps(states: dict) -> None:
    single, rank0, rank1 = states["info"]
    assert (single["world_size"], rank0["world_size"]) == (1, 2)
    assert single["steps"] == rank0["steps"] == rank1["steps"] == 3
    assert (single["per_rank_batch"], rank0["per_rank_batch"]) == (4, 2)
    assert rank0["losses"] == rank1["losses"]  # logged losses are the global batch's


def _key_bias(name: str) -> bool:
    """Attention key biases: softmax ignores them, so their true gradient is 0 and they
    receive only float noise, which Adam's normalisation scales up to lr-sized steps."""
    return name.endswith("k.bias") or name.endswith("qkv.bias")


def test_ddp_parameters_match_one_process(states: dict) -> None:
    single, rank0 = states["single"], states["rank0"]
    checked = 0
    for key, value in single.items():
        if not value.is_floating_point() or "running_" in key:
            continue  # BatchNorm statistics follow each rank's own samples
        atol = 2e-4 if _key_bias(key) else 1e-5
        assert torch.allclose(rank0[key], value, atol=atol, rtol=0), (
            key, (rank0[key] - value).abs().max().item())
        checked += 1
    assert checked > 100
    moved = [k for k, v in single.items() if v.is_floating_point() and "running_" not in k
             and (v - states["init"][k]).abs().max() > 1e-3]
    assert len(moved) > 0.8 * checked  # training really changed them


def test_memory_banks_identical_on_ranks_and_match_one_process(states: dict) -> None:
    banks = [k for k in states["single"] if k.startswith("memory.bank.")]
    assert banks and int(states["single"]["memory.bank.valid"].sum()) > 0
    for key in banks:
        assert torch.equal(states["rank0"][key], states["rank1"][key]), key
        a, b = states["rank0"][key], states["single"][key]
        if a.is_floating_point():
            assert torch.allclose(a, b, atol=2e-5, rtol=1e-4), key
        else:
            assert torch.equal(a, b), key


def test_ranks_hold_identical_weights(states: dict) -> None:
    for key, value in states["rank0"].items():
        assert torch.equal(value, states["rank1"][key]), key


def test_ranks_with_unequal_scene_groups_train_in_step(tmp_path: Path) -> None:
    """Scene groups give ranks different query counts in a step; the global contrastive
    term's gather must still line up (it once aborted gloo with a size mismatch)."""
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
          f"--master_port={_free_port()}", str(WORKER), str(tmp_path), "--grouped"])
    info = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert info[0]["steps"] == info[1]["steps"] == 4  # 8 groups, 2 per step
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key, value in rank0.items():
        torch.testing.assert_close(value, rank1[key], msg=key)
