"""f_point: the per-point branch of MR-COSMO's dual point-cloud feature extraction."""

from __future__ import annotations

import torch
from torch import nn

from query3d.config import ModelConfig


class PointMLP(nn.Module):
    """Shared MLP on [xyz, rgb] per point -> (N, dim). Pointwise, so permuting the points
    permutes the output and nothing else."""

    def __init__(self, cfg: ModelConfig, in_dim: int = 6) -> None:
        super().__init__()
        if cfg.point_mlp_layers < 1:
            raise ValueError(f"point_mlp_layers must be >= 1, got {cfg.point_mlp_layers}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(cfg.point_mlp_layers):
            layers += [nn.Linear(width, cfg.dim), nn.LayerNorm(cfg.dim), nn.GELU()]
            width = cfg.dim
        layers.append(nn.Linear(cfg.dim, cfg.dim))
        self.mlp = nn.Sequential(*layers)
        self.in_dim = in_dim

    def forward(self, xyz: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([xyz, rgb], dim=-1))
