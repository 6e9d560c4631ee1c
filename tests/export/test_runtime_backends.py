"""Backends behind one interface, backend selection, and the text-feature LRU cache."""

from __future__ import annotations

import functools
import importlib.util
import logging

import pytest
import torch
from conftest import OUTPUT_NAMES, make_inputs

from query3d.model.export.errors import BackendUnavailable
from query3d.model.runtime.backends import OnnxRuntimeBackend, TorchBackend, select_backend
from query3d.model.runtime.text_cache import TextFeatureCache

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


@pytest.mark.parametrize("num_points", [40, 777, 2048])
def test_onnxruntime_and_torch_backends_agree(toy_net, toy_onnx, num_points):
    names = list(make_inputs(10, 0))
    eager = TorchBackend(toy_net, names, OUTPUT_NAMES)
    ort_backend = OnnxRuntimeBackend(toy_onnx, threads=1)
    assert ort_backend.input_names == names and ort_backend.output_names == OUTPUT_NAMES
    inputs = make_inputs(num_points, seed=num_points)
    inputs["unused_extra"] = torch.zeros(3)  # backends take what their graph needs
    want, got = eager.run(inputs), ort_backend.run(inputs)
    assert set(got) == set(want) == set(OUTPUT_NAMES)
    for name in OUTPUT_NAMES:
        assert got[name].device.type == "cpu"
        torch.testing.assert_close(got[name], want[name], atol=1e-4, rtol=1e-4)


def test_onnxruntime_session_options(toy_onnx):
    backend = OnnxRuntimeBackend(toy_onnx, threads=2, use_cuda=False)
    options = backend.session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert backend.providers == ["CPUExecutionProvider"]
    # idle threads must not spin: preprocessing and the other part's session need the cores
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_missing_input_is_named(toy_net, toy_onnx):
    inputs = make_inputs(30, 0)
    del inputs["knn"]
    for backend in (
        TorchBackend(toy_net, list(make_inputs(5, 0)), OUTPUT_NAMES),
        OnnxRuntimeBackend(toy_onnx),
    ):
        with pytest.raises(ValueError, match="knn"):
            backend.run(inputs)


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT runs here, so auto picks it")
def test_auto_falls_back_to_onnxruntime_and_says_why(caplog):
    caplog.set_level(logging.INFO, logger="query3d.model.runtime.backends")
    assert select_backend("auto") == "onnxruntime"
    assert "tensorrt unavailable" in caplog.text and "using onnxruntime" in caplog.text
    with pytest.raises(BackendUnavailable, match="tensorrt"):
        select_backend("tensorrt")


def test_explicit_backends_and_bad_names():
    assert select_backend("torch") == "torch"
    assert select_backend("onnxruntime") == "onnxruntime"
    with pytest.raises(ValueError, match="choose auto or one of"):
        select_backend("openvino")


def test_text_cache_matches_functools_lru_cache():
    calls = []

    def encode(text):
        calls.append(text)
        return torch.tensor([len(text)])

    ours = TextFeatureCache(encode, max_entries=3)
    reference = functools.lru_cache(maxsize=3)(lambda text: len(text))
    sequence = ["a", "bb", "a", "ccc", "dddd", "bb", "a", "dddd", "eeeee", "a", "a"]
    for text in sequence:
        assert int(ours(text)) == reference(text)
    info = reference.cache_info()
    assert (ours.hits, ours.misses, len(ours)) == (info.hits, info.misses, info.currsize)
    assert len(calls) == info.misses  # each miss encoded exactly once


def test_text_cache_rejects_bad_input():
    with pytest.raises(ValueError, match=">= 1"):
        TextFeatureCache(str.upper, max_entries=0)
    with pytest.raises(ValueError, match="string"):
        TextFeatureCache(str.upper, max_entries=2)(42)


def test_graph_cache_key_follows_weights_and_config_not_the_file():
    from query3d.model.runtime.segmenter import weights_key

    state = {"a.weight": torch.ones(3, 2), "a.bias": torch.zeros(2), "n": torch.tensor(4)}
    key = weights_key({"model": {"dim": 8}}, state)
    assert weights_key({"model": {"dim": 8}}, {k: v.clone() for k, v in state.items()}) == key
    changed = {**state, "a.bias": torch.tensor([0.0, 1e-6])}
    assert weights_key({"model": {"dim": 8}}, changed) != key
    assert weights_key({"model": {"dim": 16}}, state) != key
