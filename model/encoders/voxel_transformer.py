"""f_voxel: shifted-window transformer over the finest voxels, plus coarser scales.

Layers alternate the regular and the half-window-shifted partition (Swin), each window
chunked into groups of P tokens by preprocessing (``win_groups``), so attention is a dense
(G, P) batch with a key-padding mask. Position enters every layer as a learned encoding of
each voxel centre relative to its group's mean centre (translation invariant). Coarser
scales are masked means over ``voxel_members`` of the finest features broadcast to the
points, because the multi-scale encoder-decoder downstream reads several scales.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from query3d.config import ModelConfig

from .gather import gather_rows, masked_mean, take_rows, valid_mask


class WindowAttentionLayer(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.position = nn.Sequential(nn.Linear(3, dim), nn.GELU(), nn.Linear(dim, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, centers: torch.Tensor, groups: torch.Tensor,
                inverse: torch.Tensor, window_edge: float) -> torch.Tensor:
        """x (V, D), centers (V, 3), groups (G, P) pad V, inverse (V,) -> (V, D)."""
        g, p = groups.shape
        d = x.shape[1]
        valid = valid_mask(groups, x.shape[0])  # (G, P)
        weight = valid.unsqueeze(-1).to(x.dtype)
        group_centers = gather_rows(centers, groups)
        mean_center = (group_centers * weight).sum(1, keepdim=True) / weight.sum(
            1, keepdim=True).clamp(min=1)
        relative = (group_centers - mean_center) / window_edge
        tokens = self.norm1(gather_rows(x, groups)) + self.position(relative)
        qkv = self.qkv(tokens).reshape(g, p, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (G, heads, P, D / heads)
        attn_mask = valid[:, None, None, :]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0)
        # each voxel's row first, then the projection: V rows, not G * P
        x = x + self.proj(take_rows(out.transpose(1, 2).reshape(g * p, d), inverse))
        return x + self.mlp(self.norm2(x))


class VoxelTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.window_edge = cfg.voxel_size * cfg.voxel_scales[0] * cfg.window_size
        self.layers = nn.ModuleList(
            WindowAttentionLayer(cfg.dim, cfg.heads, cfg.dropout)
            for _ in range(cfg.voxel_transformer_layers))
        self.norm = nn.LayerNorm(cfg.dim)
        coarse = len(cfg.voxel_scales) - 1
        self.scale_proj = nn.ModuleList(
            nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.LayerNorm(cfg.dim))
            for _ in range(coarse))

    def forward(self, x: torch.Tensor, voxel_center: list[torch.Tensor],
                point2voxel: list[torch.Tensor], voxel_members: list[torch.Tensor],
                win_groups: torch.Tensor, win_inverse: torch.Tensor,
                win_groups_shifted: torch.Tensor, win_inverse_shifted: torch.Tensor
                ) -> list[torch.Tensor]:
        """x (V_0, D) stem features -> [(V_s, D) for each scale], finest first."""
        for i, layer in enumerate(self.layers):
            if i % 2 == 0:
                x = layer(x, voxel_center[0], win_groups, win_inverse, self.window_edge)
            else:
                x = layer(x, voxel_center[0], win_groups_shifted, win_inverse_shifted,
                          self.window_edge)
        fine = self.norm(x)
        per_point = take_rows(fine, point2voxel[0])
        scales = [fine]
        for proj, members in zip(self.scale_proj, voxel_members[1:]):
            scales.append(proj(masked_mean(per_point, members)))
        return scales
