"""The point-cloud side of MR-COSMO's encoders: f_point and multi-scale f_voxel."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from query3d.config import ModelConfig
from query3d.model.preprocess.inputs import FrameInputs

from .point import PointMLP
from .sparse_conv import BACKENDS
from .voxel_stem import VoxelStem
from .voxel_transformer import VoxelTransformer

STEM_INPUTS = 9  # offset to voxel centre (in voxel edges), rgb, xyz


@dataclass
class PointCloudFeatures:
    point: torch.Tensor  # (N, dim) f_point
    voxel: list[torch.Tensor]  # per scale (V_s, dim) f_voxel, finest first


def stem_point_inputs(frame: FrameInputs, voxel_edge: float) -> torch.Tensor:
    """Per-point stem input: where the point sits inside its voxel, its colour and its
    position in the cloud (N, 9)."""
    offset = (frame.xyz - frame.voxel_center[0][frame.point2voxel[0]]) / voxel_edge
    return torch.cat([offset, frame.rgb, frame.xyz], dim=1)


class PointCloudEncoder(nn.Module):
    """PointMLP (f_point) + VoxelStem + VoxelTransformer (f_voxel) over one frame."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.sparse_backend not in BACKENDS:
            raise ValueError(f"sparse_backend must be one of {BACKENDS}, "
                             f"got {cfg.sparse_backend!r}")
        self.voxel_edge = cfg.voxel_size * cfg.voxel_scales[0]
        self.point_mlp = PointMLP(cfg)
        self.stem = VoxelStem(STEM_INPUTS, cfg.dim, cfg.voxel_stem_blocks, cfg.sparse_backend)
        self.transformer = VoxelTransformer(cfg)

    def forward(self, frame: FrameInputs) -> PointCloudFeatures:
        point = self.point_mlp(frame.xyz, frame.rgb)
        stem = self.stem(stem_point_inputs(frame, self.voxel_edge), frame.voxel_members[0],
                         frame.kmap, frame.voxel_coords[0])
        voxel = self.transformer(stem, frame.voxel_center, frame.point2voxel,
                                 frame.voxel_members, frame.win_groups, frame.win_inverse,
                                 frame.win_groups_shifted, frame.win_inverse_shifted)
        return PointCloudFeatures(point=point, voxel=voxel)
