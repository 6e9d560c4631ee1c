"""Voxel stem: pool points into the finest voxels, then residual submanifold convs.

Points are embedded, then pooled by a masked mean over ``voxel_members`` (gather, no
scatter). The convs give the
window transformer local geometric context across window borders, as a sparse-conv stem
does in PTv3-style voxel encoders.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .gather import masked_mean
from .sparse_conv import make_submanifold_conv, spconv_tensor


class SubmanifoldBlock(nn.Module):
    """Pre-norm residual block: x + conv(GELU(LN(conv(GELU(LN(x))))))."""

    def __init__(self, dim: int, backend: str) -> None:
        super().__init__()
        self.backend = backend
        self.norm1 = nn.LayerNorm(dim)
        self.conv1 = make_submanifold_conv(dim, dim, backend)
        self.norm2 = nn.LayerNorm(dim)
        self.conv2 = make_submanifold_conv(dim, dim, backend)

    def _conv(self, conv: nn.Module, x: torch.Tensor, context: Any) -> torch.Tensor:
        if self.backend == "torch":
            return conv(x, context)
        return conv(context.replace_feature(x)).features

    def forward(self, x: torch.Tensor, context: Any) -> torch.Tensor:
        """``context`` is the kernel map (torch) or a SparseConvTensor (spconv)."""
        h = self._conv(self.conv1, F.gelu(self.norm1(x)), context)
        h = self._conv(self.conv2, F.gelu(self.norm2(h)), context)
        return x + h


class VoxelStem(nn.Module):
    def __init__(self, in_dim: int, dim: int, blocks: int, backend: str = "torch") -> None:
        super().__init__()
        self.backend = backend
        self.embed = nn.Sequential(nn.Linear(in_dim, dim), nn.LayerNorm(dim), nn.GELU(),
                                   nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(SubmanifoldBlock(dim, backend) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)

    def forward(self, point_feats: torch.Tensor, members: torch.Tensor, kmap: torch.Tensor,
                coords: torch.Tensor | None = None) -> torch.Tensor:
        """point_feats (N, in), members (V, M) pad N, kmap (V, 27) -> (V, dim).

        ``coords`` (V, 3) integer voxel coordinates are needed by the spconv backend only.
        """
        x = masked_mean(self.embed(point_feats), members)
        if self.backend == "spconv":
            if coords is None:
                raise ValueError("the spconv backend needs voxel coords")
            context: Any = spconv_tensor(x, coords)
        else:
            context = kmap
        for block in self.blocks:
            x = block(x, context)
        return self.norm(x)
