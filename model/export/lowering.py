"""Lowerings applied to the exported program before ONNX translation.

``scaled_dot_product_attention`` is written out as MatMul / Softmax / MatMul. Why: the
onnxscript translation of the fused op accepts only 4-D query/key/value (the network's
(heads, L, d) attention fails to export), and TensorRT's ONNX ``Attention`` op also wants
4-D and opset 23. Written out, attention is the plain ops every runtime supports, with
the same arithmetic as torch's math backend.
"""

from __future__ import annotations

import math

import torch

LOWERINGS = {}


def sdpa_as_matmul_softmax(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v, for any number of leading dimensions."""
    if dropout_p:
        raise ValueError("attention dropout in an exported graph: export in eval mode")
    if enable_gqa and query.shape[-3] != key.shape[-3]:
        raise ValueError("grouped-query attention is not lowered; export with equal heads")
    factor = scale if scale is not None else 1.0 / math.sqrt(query.shape[-1])
    scores = (query @ key.transpose(-2, -1)) * factor
    if is_causal:
        causal = torch.ones(
            query.shape[-2], key.shape[-2], dtype=torch.bool, device=query.device
        ).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    return torch.softmax(scores, dim=-1) @ value


LOWERINGS[torch.ops.aten.scaled_dot_product_attention.default] = sdpa_as_matmul_softmax


def _needs_lowering(program: torch.export.ExportedProgram) -> bool:
    for node in program.graph.nodes:
        if node.target is torch.ops.aten.scaled_dot_product_attention.default:
            query = node.args[0].meta.get("val")
            if query is None or query.dim() != 4:
                return True
    return False


def lower_for_onnx(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """Apply ``LOWERINGS`` where the translator cannot (re-tracing costs export time, so
    a program whose attention is all 4-D is passed through untouched)."""
    if not _needs_lowering(program):
        return program
    return program.run_decompositions(dict(LOWERINGS))
