"""The pure-torch submanifold conv is the twin of spconv's SubMConv3d (same weights, same
outputs and gradients) and of a dense Conv3d evaluated at the occupied sites."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from query3d.model.encoders import SubmanifoldConv3d, VoxelStem, make_submanifold_conv
from query3d.model.encoders.sparse_conv import spconv_tensor
from query3d.model.preprocess import submanifold_kernel_map

spconv = pytest.importorskip("spconv.pytorch")


def random_voxels(count: int, extent: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coords = torch.randint(0, extent, (count, 3), generator=gen).unique(dim=0)
    return coords[torch.randperm(len(coords), generator=gen)]  # not in key order


def test_torch_conv_equals_spconv_forward_and_gradient():
    coords = random_voxels(400, 9, seed=0)
    kmap = submanifold_kernel_map(coords)
    ours = SubmanifoldConv3d(6, 5)
    theirs = make_submanifold_conv(6, 5, "spconv")
    assert isinstance(theirs, spconv.SubMConv3d)
    theirs.load_state_dict(ours.state_dict())
    feats = torch.randn(len(coords), 6, generator=torch.Generator().manual_seed(1))
    x1 = feats.clone().requires_grad_(True)
    x2 = feats.clone().requires_grad_(True)
    y1 = ours(x1, kmap)
    y2 = theirs(spconv_tensor(x2, coords)).features
    torch.testing.assert_close(y1, y2, rtol=1e-5, atol=1e-5)
    upstream = torch.randn_like(y1)
    (y1 * upstream).sum().backward()
    (y2 * upstream).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-5, atol=1e-5)


def test_torch_conv_equals_dense_conv3d_at_occupied_sites():
    coords = random_voxels(120, 6, seed=2)
    conv = SubmanifoldConv3d(3, 4)
    feats = torch.randn(len(coords), 3)
    dense = torch.zeros(1, 3, 6, 6, 6)
    dense[0, :, coords[:, 0], coords[:, 1], coords[:, 2]] = feats.T
    weight = conv.weight.permute(0, 4, 1, 2, 3)  # (out, in, k0, k1, k2)
    ref = F.conv3d(dense, weight, conv.bias, padding=1)[0][:, coords[:, 0], coords[:, 1],
                                                          coords[:, 2]].T
    with torch.no_grad():
        torch.testing.assert_close(conv(feats, submanifold_kernel_map(coords)), ref,
                                   rtol=1e-5, atol=1e-5)


def test_voxel_stem_backends_share_weights_and_outputs():
    coords = random_voxels(300, 10, seed=3)
    v = len(coords)
    gen = torch.Generator().manual_seed(4)
    members = torch.arange(v).unsqueeze(1)  # one point per voxel
    point_feats = torch.randn(v, 9, generator=gen)
    torch_stem = VoxelStem(9, 16, blocks=2, backend="torch")
    sp_stem = VoxelStem(9, 16, blocks=2, backend="spconv")
    sp_stem.load_state_dict(torch_stem.state_dict())  # identical key layout
    a = torch_stem(point_feats, members, submanifold_kernel_map(coords), coords)
    b = sp_stem(point_feats, members, submanifold_kernel_map(coords), coords)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # a random upstream gradient: |out|^2 would be almost orthogonal to LayerNorm's
    # Jacobian and leave only rounding noise to compare
    upstream = torch.randn(a.shape, generator=gen)
    (a * upstream).sum().backward()
    (b * upstream).sum().backward()
    for (name, p), q in zip(torch_stem.named_parameters(), sp_stem.parameters()):
        scale = float(p.grad.abs().max())
        assert scale > 0, name
        assert float((p.grad - q.grad).abs().max()) <= 1e-4 * scale + 1e-6, name
    with pytest.raises(ValueError, match="needs voxel coords"):
        sp_stem(point_feats, members, submanifold_kernel_map(coords))


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="sparse_backend must be one of"):
        make_submanifold_conv(4, 4, "minkowski")
