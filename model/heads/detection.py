"""Detection head: an oriented box, a "referred-to" score and class logits per slot.

Zero, one or many slots may be referred to: that is how zero- and multi-target queries are
answered (generalised RES). Yaw is predicted as (cos 2y, sin 2y): a box turned by pi is the
same box, so the doubled angle removes that ambiguity from the regression target.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(dim: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, out))


class DetectionHead(nn.Module):
    def __init__(self, dim: int, num_classes: int, size_prior: float = 0.2) -> None:
        super().__init__()
        self.size_prior = size_prior
        self.box = _mlp(dim, 8)  # centre offset (3), log size (3), yaw vector (2)
        self.referred = _mlp(2 * dim, 1)
        self.classes = _mlp(dim, num_classes)
        with torch.no_grad():  # start at size_prior, yaw 0, offset 0
            self.box[-1].weight.mul_(0.1)
            self.box[-1].bias.zero_()
            self.box[-1].bias[6] = 1.0

    def forward(
        self, queries: torch.Tensor, anchors: torch.Tensor, text: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """queries (K, d), anchors (K, 3), text (1, d) -> per-slot box, scores and logits."""
        raw = self.box(queries)
        yaw_vec = F.normalize(raw[:, 6:8], dim=-1, eps=1e-6)
        return {
            "box_center": anchors + raw[:, 0:3],
            "box_size": self.size_prior * torch.exp(raw[:, 3:6].clamp(-6.0, 4.0)),
            "box_yaw_vec": yaw_vec,
            "box_yaw": 0.5 * torch.atan2(yaw_vec[:, 1], yaw_vec[:, 0]),
            "ref_logit": self.referred(
                torch.cat([queries, queries * text / math.sqrt(queries.shape[-1])], dim=-1)
            ).squeeze(-1),
            "class_logits": self.classes(queries),
        }
