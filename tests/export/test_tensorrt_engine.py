"""Engine cache key (pure, no GPU) and the TensorRT build/run path (skips without TensorRT)."""

from __future__ import annotations

import importlib.util
import logging
import shutil

import onnx
import pytest
import torch
from conftest import OUTPUT_NAMES, TOY_PROFILE, make_inputs

from query3d.model.export.errors import BackendUnavailable
from query3d.model.export.tensorrt_engine import (
    engine_cache_key,
    engine_cache_path,
    import_tensorrt,
    onnx_file_hash,
    profile_shapes,
)

GPU, TRT = "NVIDIA H100 80GB HBM3", "10.13.0.35"
PROFILE = {"N": (1000, 20000, 200000), "V": (10, 5000, 200000)}
ONNX = "a" * 64


def test_key_is_stable_for_equal_inputs():
    key = engine_cache_key(GPU, TRT, "fp16", PROFILE, ONNX)
    reordered = {"V": [10, 5000, 200000], "N": (1000, 20000, 200000)}
    assert engine_cache_key(GPU, TRT, "fp16", reordered, ONNX) == key
    assert engine_cache_key(GPU + " ", TRT, "fp16", PROFILE, ONNX) == key
    assert len(key) == 32 and int(key, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"precision": "fp32"},
        {"profile": {**PROFILE, "N": (1000, 20000, 300000)}},
        {"profile": {**PROFILE, "N": (500, 20000, 200000)}},
        {"profile": {**PROFILE, "N": (1000, 30000, 200000)}},
        {"profile": {"N": PROFILE["N"]}},
        {"onnx_hash": "b" * 64},
        {"gpu_name": "NVIDIA GeForce RTX 4090"},
        {"tensorrt_version": "10.15.1"},
    ],
)
def test_key_changes_with_what_makes_an_engine_valid(change):
    args = dict(
        gpu_name=GPU, tensorrt_version=TRT, precision="fp16", profile=PROFILE, onnx_hash=ONNX
    )
    assert engine_cache_key(**{**args, **change}) != engine_cache_key(**args)


def test_key_rejects_bad_precision_and_profile():
    with pytest.raises(ValueError, match="precision"):
        engine_cache_key(GPU, TRT, "int8", PROFILE, ONNX)
    with pytest.raises(ValueError, match="min <= opt <= max"):
        engine_cache_key(GPU, TRT, "fp16", {"N": (10, 5, 20)}, ONNX)
    with pytest.raises(ValueError, match="empty"):
        engine_cache_key(GPU, TRT, "fp16", {}, ONNX)


def test_cache_path_is_per_gpu(tmp_path):
    path = engine_cache_path(tmp_path, GPU, "k" * 32)
    assert path == tmp_path / "nvidia-h100-80gb-hbm3" / ("k" * 32 + ".engine")
    assert engine_cache_path(tmp_path, "Orin (nvgpu)", "k").parent.name == "orin-nvgpu"


def test_onnx_hash_follows_content_not_path(toy_onnx, tmp_path):
    copy = tmp_path / "copy.onnx"
    shutil.copy(toy_onnx, copy)
    assert onnx_file_hash(copy) == onnx_file_hash(toy_onnx)
    model = onnx.load(str(copy))
    model.graph.initializer[0].raw_data = bytes(len(model.graph.initializer[0].raw_data))
    onnx.save(model, str(copy))
    assert onnx_file_hash(copy) != onnx_file_hash(toy_onnx)


def test_profile_shapes_cover_every_dynamic_input(toy_onnx):
    shapes = profile_shapes(onnx.load(str(toy_onnx)), TOY_PROFILE)
    assert shapes["xyz"] == ((100, 3), (20000, 3), (200000, 3))
    assert shapes["groups"] == ((13, 8), (2500, 8), (25000, 8))
    assert "text_features" not in shapes  # static inputs need no profile
    with pytest.raises(ValueError, match="only covers"):
        profile_shapes(onnx.load(str(toy_onnx)), {"N": (1, 2, 3)})


HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt imports here; the unavailable path is moot")
def test_without_tensorrt_the_error_says_why():
    with pytest.raises(BackendUnavailable, match="tensorrt package does not import"):
        import_tensorrt()


@pytest.mark.gpu
@pytest.mark.skipif(
    not (HAS_TENSORRT and torch.cuda.is_available()),
    reason="needs the tensorrt package and a CUDA device (TensorRT's libraries are not "
    "installable on CPU-only development and CI machines)",
)
def test_engine_builds_caches_and_matches_torch(toy_net, toy_onnx, tmp_path, caplog):
    from query3d.model.export.tensorrt_engine import TensorRTRunner, cached_engine

    caplog.set_level(logging.INFO)
    engine = cached_engine(toy_onnx, tmp_path, "fp32", TOY_PROFILE, workspace_mb=512)
    built_at = engine.stat().st_mtime_ns
    assert "building TensorRT" in caplog.text
    again = cached_engine(toy_onnx, tmp_path, "fp32", TOY_PROFILE, workspace_mb=256)
    assert again == engine and engine.stat().st_mtime_ns == built_at
    assert "cache hit" in caplog.text
    runner = TensorRTRunner(engine)
    for n in (150, 3000):
        inputs = make_inputs(n, seed=n)
        got = runner.run({k: v.cuda() for k, v in inputs.items()})
        with torch.no_grad():
            want = toy_net(**inputs)
        for name, ref in zip(OUTPUT_NAMES, want):
            assert got[name].is_cuda
            torch.testing.assert_close(got[name].cpu(), ref, atol=1e-3, rtol=1e-3)
    with pytest.raises(ValueError, match="profile allows"):
        runner.run({k: v.cuda() for k, v in make_inputs(50, seed=1).items()})
    fp16 = cached_engine(toy_onnx, tmp_path, "fp16", TOY_PROFILE, workspace_mb=512)
    assert fp16 != engine and fp16.is_file()
