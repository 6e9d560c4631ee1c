"""Attention lowering (checked against torch's SDPA) and the frame graph's input naming."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from query3d.model.export.frame_graph import (
    frame_dynamic_axes,
    frame_graph_input_names,
    pad_seeds,
)
from query3d.model.export.lowering import sdpa_as_matmul_softmax
from query3d.model.export.onnx_export import export_onnx


@pytest.mark.parametrize("shape", [(4, 9, 16), (2, 4, 9, 16)])
@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_lowered_attention_equals_torch_sdpa(shape, mask):
    torch.manual_seed(0)
    q, k, v = (torch.randn(shape) for _ in range(3))
    attn_mask = None
    if mask == "bool":
        attn_mask = torch.rand(shape[-2], shape[-2]) > 0.3
        attn_mask[:, 0] = True  # no fully masked row (both would give NaN)
    elif mask == "float":
        attn_mask = torch.randn(shape[-2], shape[-2])
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    got = sdpa_as_matmul_softmax(q, k, v, attn_mask=attn_mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
    torch.testing.assert_close(sdpa_as_matmul_softmax(q, k, v, is_causal=True, scale=0.3), want)


class HeadsFirstAttention(torch.nn.Module):
    """(heads, L, d) attention, as the network's decoder writes it: 3-D SDPA."""

    def forward(self, tokens, memory):
        q = tokens.reshape(tokens.shape[0], 4, 8).transpose(0, 1)
        kv = memory.reshape(memory.shape[0], 4, 8).transpose(0, 1)
        out = F.scaled_dot_product_attention(q, kv, kv)
        return out.transpose(0, 1).reshape(tokens.shape[0], 32)


def test_three_dimensional_attention_exports_and_runs(tmp_path):
    example = {"tokens": torch.randn(50, 32), "memory": torch.randn(7, 32)}
    path = export_onnx(
        HeadsFirstAttention(), example, ["out"], {"tokens": {0: "N"}}, tmp_path / "attn.onnx"
    )
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Softmax" in ops and "MatMul" in ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokens = torch.randn(123, 32)
    (got,) = session.run(None, {"tokens": tokens.numpy(), "memory": example["memory"].numpy()})
    want = HeadsFirstAttention()(tokens, example["memory"])
    torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("with_images", [False, True])
def test_every_frame_input_has_its_axes(with_images):
    names = frame_graph_input_names(3, with_images)
    axes = frame_dynamic_axes(names)
    assert axes["xyz"] == {0: "N"} and axes["voxel_members_2"] == {0: "V2"}
    assert axes["point2voxel_1"] == {0: "N"} and axes["kmap"] == {0: "V0"}
    assert axes["text_tokens"] == {1: "T"} and "origin" not in axes and "seeds" not in axes
    assert ("pix_uv" in axes) == with_images
    if with_images:
        assert axes["pix_uv"] == {0: "N", 1: "C"}
    with pytest.raises(ValueError, match="no dynamic-axis rule"):
        frame_dynamic_axes([*names, "normals"])


def test_pad_seeds_keeps_a_fixed_length():
    seeds = torch.tensor([5, 9, 2])
    assert pad_seeds(seeds, 7).tolist() == [5, 9, 2, 5, 9, 2, 5]
    assert pad_seeds(torch.arange(70), 64).tolist() == list(range(64))
    with pytest.raises(ValueError, match="no seeds"):
        pad_seeds(torch.empty(0, dtype=torch.int64), 4)
