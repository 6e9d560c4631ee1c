"""When a cached TensorRT engine is reused and when it is rebuilt (pure logic, no GPU),
and the rebuild of an engine TensorRT refuses (skips without TensorRT and CUDA)."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest
import torch

from query3d.model.export.tensorrt_engine import (
    engine_record,
    file_sha256,
    read_record,
    stale_reason,
)

GPU, TRT = "NVIDIA H200", "10.13.0.35"
PROFILE = {"N": (1000, 20000, 200000)}
EXPECTED = engine_record(GPU, TRT, "fp16", PROFILE, "a" * 64)
SHA = "e" * 64


def _recorded(**changes) -> dict:
    return {**EXPECTED, "engine_sha256": SHA, "onnx": "/x/frame.onnx", **changes}


def test_a_matching_engine_and_record_are_reused() -> None:
    assert stale_reason(_recorded(), EXPECTED, SHA) is None
    # a record read back from JSON (lists for the profile) is the same record
    assert stale_reason(json.loads(json.dumps(_recorded())), EXPECTED, SHA) is None


@pytest.mark.parametrize("change, reason", [
    ({"tensorrt": "10.9.0"}, "TensorRT version differs: built for '10.9.0'"),
    ({"gpu": "Orin"}, "GPU differs"),
    ({"precision": "fp32"}, "precision differs"),
    ({"profile": {"N": [1000, 20000, 100000]}}, "shape profile differs"),
    ({"onnx_hash": "b" * 64}, "ONNX graph differs"),
    ({"engine_sha256": "0" * 64}, "does not match its record"),
])
def test_an_engine_built_for_something_else_is_stale(change: dict, reason: str) -> None:
    assert reason in stale_reason(_recorded(**change), EXPECTED, SHA)


def test_missing_engine_or_record_is_stale() -> None:
    assert stale_reason(_recorded(), EXPECTED, None) == "no engine file"
    assert "no readable build record" in stale_reason(None, EXPECTED, SHA)


def test_records_and_hashes_are_read_from_disk(tmp_path: Path) -> None:
    engine = tmp_path / "k.engine"
    assert file_sha256(engine) is None and read_record(engine) is None
    engine.write_bytes(b"serialized engine")
    engine.with_suffix(".json").write_text("{not json")
    assert read_record(engine) is None  # an unreadable record is no record: rebuild
    engine.with_suffix(".json").write_text(json.dumps(_recorded()))
    assert read_record(engine)["tensorrt"] == TRT
    before = file_sha256(engine)
    engine.write_bytes(b"serialized engin")  # truncated by a crash or a copy
    assert file_sha256(engine) != before


HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.mark.gpu
@pytest.mark.skipif(not (HAS_TENSORRT and torch.cuda.is_available()),
                    reason="needs the tensorrt package and a CUDA device")
def test_a_damaged_cached_engine_is_rebuilt_with_a_log_line(toy_onnx, tmp_path, caplog):
    from conftest import TOY_PROFILE

    from query3d.model.export.tensorrt_engine import cached_engine, load_runner

    caplog.set_level(logging.INFO)
    engine = cached_engine(toy_onnx, tmp_path, "fp32", TOY_PROFILE, workspace_mb=256)
    engine.write_bytes(engine.read_bytes()[: engine.stat().st_size // 2])
    rebuilt, runner = load_runner(toy_onnx, tmp_path, "fp32", TOY_PROFILE, workspace_mb=256)
    assert rebuilt == engine and "rebuilding TensorRT engine" in caplog.text
    assert "does not match its record" in caplog.text and runner.input_names
