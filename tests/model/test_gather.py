"""Gather pooling: the fused inference path equals the exportable gather form."""

from __future__ import annotations

import pytest
import torch

from query3d.model.decoder.transformer import ScaleUnpool
from query3d.model.encoders import gather
from query3d.model.encoders.gather import gather_rows, masked_mean


def _members(rows: int, bags: int, width: int, seed: int) -> torch.Tensor:
    """(bags, width) member rows, left-packed, pads == rows; some bags empty."""
    g = torch.Generator().manual_seed(seed)
    index = torch.full((bags, width), rows, dtype=torch.int64)
    counts = torch.randint(0, width + 1, (bags,), generator=g)
    for b, c in enumerate(counts.tolist()):
        index[b, :c] = torch.randint(0, rows, (c,), generator=g)
    return index


def _gathered_mean(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    count = (index < table.shape[0]).sum(dim=-1, keepdim=True).clamp(min=1)
    return gather_rows(table, index).sum(dim=-2) / count


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("width", [1, 16])
def test_fused_masked_mean_equals_the_gather_form(dtype, width):
    table = torch.randn(500, width, generator=torch.Generator().manual_seed(0), dtype=dtype)
    index = _members(500, 300, 16, seed=1)
    with torch.no_grad():
        assert gather.can_fuse(table, index)
        fused = masked_mean(table, index)
    assert fused.shape == (300, width) and fused.dtype == dtype
    torch.testing.assert_close(fused, _gathered_mean(table, index), rtol=1e-5, atol=1e-6)
    empty = (index == 500).all(dim=1)
    assert empty.any() and bool((fused[empty] == 0).all())  # empty bags give zeros


def test_masked_mean_keeps_leading_index_axes_and_gradients():
    table = torch.randn(200, 8, requires_grad=True)
    index = _members(200, 60, 9, seed=2).reshape(3, 20, 9)
    out = masked_mean(table, index)  # grad enabled: the gather form
    assert out.shape == (3, 20, 8)
    out.sum().backward()
    assert table.grad is not None and table.grad.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(masked_mean(table, index), out.detach())


def test_the_export_traces_the_gather_form():
    """The fused path's shapes depend on the data: torch.export must see the gathers."""

    class Pool(torch.nn.Module):
        def forward(self, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return masked_mean(table, index)

    table, index = torch.randn(50, 4), _members(50, 10, 5, seed=3)
    with torch.no_grad():
        program = torch.export.export(Pool(), (table, index), strict=False)
    ops = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not any("embedding_bag" in op for op in ops), ops
    assert any("index_select" in op for op in ops), ops
    assert not gather.exporting()


def test_scale_unpool_equals_norm_and_linear_over_the_concatenated_tokens():
    g = torch.Generator().manual_seed(4)
    unpool = ScaleUnpool(3, 16)
    with torch.no_grad():
        unpool[0].weight.copy_(1 + 0.3 * torch.randn(48, generator=g))
        unpool[0].bias.copy_(0.3 * torch.randn(48, generator=g))
    tokens = [2 * torch.randn(v, 16, generator=g) + 0.5 for v in (120, 40, 9)]
    point2voxel = [torch.randint(0, v, (700,), generator=g) for v in (120, 40, 9)]
    concatenated = torch.cat([t[p] for t, p in zip(tokens, point2voxel)], dim=-1)
    torch.testing.assert_close(unpool.to_points(tokens, point2voxel), unpool(concatenated),
                               rtol=1e-4, atol=1e-5)
    assert list(unpool.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_the_fused_submanifold_conv_equals_its_gather_form():
    from query3d.model.encoders.sparse_conv import SubmanifoldConv3d
    from query3d.model.preprocess.voxels import submanifold_kernel_map

    g = torch.Generator().manual_seed(5)
    coords = torch.unique(torch.randint(0, 12, (900, 3), generator=g), dim=0)
    kmap = submanifold_kernel_map(coords)
    conv = SubmanifoldConv3d(8, 5)
    feats = torch.randn(len(coords), 8, generator=g)
    assert (kmap == len(coords)).any() and (kmap < len(coords)).any()  # real and empty taps
    with torch.no_grad():
        assert gather.can_fuse(feats, kmap)
        fused = conv(feats, kmap)
    gathered = conv(feats.requires_grad_(), kmap)  # grad: the exportable gather form
    torch.testing.assert_close(fused, gathered.detach(), rtol=1e-5, atol=1e-6)
