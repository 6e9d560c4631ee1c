"""Superpoint tokens: point features pooled into precomputed superpoints (HCF-RES Eq. 1),
with what a segment looks like as a whole, and its image evidence weighed against 3D.

A few hundred superpoint tokens replace thousands of points for query selection, the
detection slots' masks and the memory's pooled features: a mask over superpoints follows
object boundaries by construction. Pooling is a gather over each superpoint's member
points (``superpoint_members``, pad N) and a masked mean, so it exports with dynamic point
and superpoint counts. Each token adds a descriptor of its segment (centre, extent, mean
and spread of colour, size), the words of a query ("the big red box on the left") are
about these. With camera images, the pixel features of the members (HCF-RES Eq. 2) are
mask-pooled per superpoint (Eq. 3-4, the superpoint projected into the views is the 2D
mask) and added with a learnt per-superpoint weight (Eq. 6): 2D where the view is good,
3D where the segment is occluded or unseen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from query3d.model.encoders.gather import masked_mean, take_rows

DESCRIPTOR_DIM = 13  # centre 3, extent 3, mean colour 3 (6:9), colour spread 3, log size 1


@dataclass
class SuperpointTokens:
    tokens: torch.Tensor  # (S, d)
    center: torch.Tensor  # (S, 3) mean of the member points, centred frame
    seed_points: torch.Tensor  # (S,) one member point of each superpoint
    colour: torch.Tensor  # (S, 3) mean RGB of the members


@dataclass
class SuperpointStats:
    """What pooling a frame into its superpoints gives before any learnt weight: means are
    linear, so a frozen encoder's stats can be stored once and a head trained on them
    (``query3d train --task semantic``)."""

    feat: torch.Tensor  # (S, d) mean member feature
    center: torch.Tensor  # (S, 3)
    descriptor: torch.Tensor  # (S, DESCRIPTOR_DIM)
    image: torch.Tensor | None  # (S, d_img) mean pixel feature of the members seen
    seen: torch.Tensor | None  # (S, 1) members seen in a view (0: no 2D evidence)
    seed_points: torch.Tensor  # (S,)


def _masked_mean(values: torch.Tensor, index: torch.Tensor, weight: torch.Tensor,
                 count: torch.Tensor) -> torch.Tensor:
    return (take_rows(values, index) * weight).sum(1) / count


def pool_superpoints(point_feat: torch.Tensor, xyz: torch.Tensor, rgb: torch.Tensor,
                     members: torch.Tensor, image_feat: torch.Tensor | None = None,
                     image_visible: torch.Tensor | None = None) -> SuperpointStats:
    n = point_feat.shape[0]
    valid = members < n  # (S, M)
    index = members.clamp(max=n - 1)
    weight = valid.to(point_feat.dtype)[..., None]
    count = weight.sum(1).clamp_min(1.0)
    feat = masked_mean(point_feat, members)  # the widest table: fused at inference
    center = _masked_mean(xyz, index, weight, count)
    member_xyz = take_rows(xyz, index)
    low = torch.where(valid[..., None], member_xyz, torch.full_like(member_xyz, 1e3)).amin(1)
    high = torch.where(valid[..., None], member_xyz, torch.full_like(member_xyz, -1e3)).amax(1)
    colour = _masked_mean(rgb, index, weight, count)
    spread = torch.sqrt(torch.relu(_masked_mean(rgb * rgb, index, weight, count)
                                   - colour * colour) + 1e-6)
    descriptor = torch.cat([center, high - low, colour, spread, torch.log(count)], dim=-1)
    image = seen_count = None
    if image_feat is not None and image_visible is not None:
        seen = (take_rows(image_visible, index) & valid).to(point_feat.dtype)[..., None]
        seen_count = seen.sum(1)
        image = _masked_mean(image_feat, index, seen, seen_count.clamp_min(1.0))
    return SuperpointStats(feat, center, descriptor, image, seen_count, members[:, 0])


class SuperpointPooling(nn.Module):
    def __init__(self, dim: int, image_dim: int = 0) -> None:
        super().__init__()
        self.describe = nn.Sequential(nn.Linear(DESCRIPTOR_DIM, dim), nn.GELU(),
                                      nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(dim)
        self.image_proj = nn.Linear(image_dim, dim) if image_dim else None
        self.image_gate = nn.Linear(2 * dim, 1) if image_dim else None

    def forward(self, point_feat: torch.Tensor, xyz: torch.Tensor, rgb: torch.Tensor,
                members: torch.Tensor, image_feat: torch.Tensor | None = None,
                image_visible: torch.Tensor | None = None) -> SuperpointTokens:
        stats = pool_superpoints(point_feat, xyz, rgb, members, image_feat, image_visible)
        return SuperpointTokens(self.tokens(stats), stats.center, stats.seed_points,
                                stats.descriptor[:, 6:9])

    def tokens(self, stats: SuperpointStats, use_image: bool = True) -> torch.Tensor:
        """(S, d) tokens: pooled feature + segment descriptor, with the 2D evidence added
        by a learnt per-superpoint weight (Eq. 6) where a view saw the segment."""
        tokens = self.norm(stats.feat + self.describe(stats.descriptor))
        if (use_image and self.image_proj is not None and self.image_gate is not None
                and stats.image is not None and stats.seen is not None):
            image = self.image_proj(stats.image)
            gate = torch.sigmoid(self.image_gate(torch.cat([tokens, image], dim=-1)))
            tokens = tokens + gate * (stats.seen > 0).to(gate.dtype) * image  # Eq. 6
        return tokens
