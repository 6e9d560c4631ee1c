"""f_image: a ResNet (transformers) with an FPN-style fusion of its last stages, and the
pixel -> point feature gather of HCF-RES Eq. 2 via ``grid_sample`` (exportable).

The layout is config (``image_layer_type``, ``image_depths``, ...): ``paper`` is
ResNet-50, ``small`` a narrow ResNet that runs on 2 CPU cores. Weights are random unless
``image_checkpoint`` names a local Hugging Face folder (never a hub id: nothing downloads).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ResNetConfig, ResNetModel

from query3d.config import ModelConfig


def build_resnet(cfg: ModelConfig) -> ResNetModel:
    if cfg.image_checkpoint:
        folder = Path(cfg.image_checkpoint).expanduser()
        if not (folder / "config.json").is_file():
            raise ValueError(f"image_checkpoint {cfg.image_checkpoint!r} is not a local "
                             f"Hugging Face folder (no config.json)")
        return ResNetModel.from_pretrained(str(folder), local_files_only=True)
    if len(cfg.image_depths) != len(cfg.image_hidden_sizes):
        raise ValueError(f"image_depths {cfg.image_depths} and image_hidden_sizes "
                         f"{cfg.image_hidden_sizes} must have the same length")
    if cfg.image_layer_type not in ("basic", "bottleneck"):
        raise ValueError(f"image_layer_type must be basic or bottleneck, "
                         f"got {cfg.image_layer_type!r}")
    return ResNetModel(ResNetConfig(
        embedding_size=cfg.image_embedding_size, hidden_sizes=list(cfg.image_hidden_sizes),
        depths=list(cfg.image_depths), layer_type=cfg.image_layer_type))


class ImageEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = build_resnet(cfg)
        hidden = list(self.backbone.config.hidden_sizes)
        if not 1 <= cfg.image_feature_stages <= len(hidden):
            raise ValueError(f"image_feature_stages must be in [1, {len(hidden)}], "
                             f"got {cfg.image_feature_stages}")
        self.stages = cfg.image_feature_stages
        self.lateral = nn.ModuleList(
            nn.Conv2d(width, cfg.dim, kernel_size=1) for width in hidden[-self.stages:])
        self.out = nn.Conv2d(cfg.dim, cfg.dim, kernel_size=3, padding=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (C, 3, H, W) normalised -> feature map (C, dim, h, w) at the stride of the
        finest fused stage (coarser stages are upsampled and added, top-down)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (C, 3, H, W), got {tuple(images.shape)}")
        hidden = self.backbone(images, output_hidden_states=True).hidden_states
        maps = hidden[-self.stages:]
        fused = self.lateral[-1](maps[-1])
        for lateral, fmap in zip(reversed(self.lateral[:-1]), reversed(maps[:-1])):
            fused = lateral(fmap) + F.interpolate(fused, size=fmap.shape[-2:],
                                                  mode="bilinear", align_corners=False)
        return self.out(fused)


def gather_pixel_features(feat_map: torch.Tensor, pix_uv: torch.Tensor,
                          pix_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinearly sample each point's pixel feature in every camera.

    feat_map (C, D, h, w), pix_uv (N, C, 2) in [-1, 1], pix_valid (N, C) ->
    per-camera features (N, C, D) (zeros where not visible) and their mean over the
    cameras that see the point (N, D) (zeros for points no camera sees).
    """
    grid = pix_uv.permute(1, 0, 2).unsqueeze(2)  # (C, N, 1, 2)
    sampled = F.grid_sample(feat_map, grid, mode="bilinear", padding_mode="border",
                            align_corners=False)  # (C, D, N, 1)
    per_camera = sampled.squeeze(-1).permute(2, 0, 1)  # (N, C, D)
    weight = pix_valid.unsqueeze(-1).to(per_camera.dtype)
    per_camera = per_camera * weight
    fused = per_camera.sum(dim=1) / weight.sum(dim=1).clamp(min=1)
    return per_camera, fused
