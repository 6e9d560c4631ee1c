"""Binary mask classifier on the points inside each slot's box, refined iteratively.

The "inside the box (plus margin)" test is soft and elementwise (a product of sigmoids per
box axis, in log space), so it exports and keeps a dynamic point count. Boxes are detached
here: they are trained by the box loss, and the mask loss should not drag a box to cover
a mistaken mask. Each refinement pools the memory-recalled point features under the
current mask belief, so the slot's kernel sharpens from "everything in the box" towards
"the object".
"""

from __future__ import annotations

import math

import torch
from torch import nn

from query3d.model.memory.recall import MemoryRecall

LOG_GATE_FLOOR = -15.0  # points far outside a box: p <= 3e-7 * sigmoid(classifier logit)


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), accurate for any x.

    ``F.logsigmoid`` exports as -Softplus(-x), which onnxruntime evaluates inaccurately far
    from zero (-inf below about -88, tenths off around -14); this form has no overflow and
    exports to Min/Abs/Exp/Log.
    """
    return torch.clamp(x, max=0.0) - torch.log1p(torch.exp(-x.abs()))


def soft_box_log_gate(
    xyz: torch.Tensor,
    center: torch.Tensor,
    size: torch.Tensor,
    yaw: torch.Tensor,
    margin: float,
    softness: float,
) -> torch.Tensor:
    """log P(point inside box grown by margin) for every (box, point): (K, N).

    Points are turned into each box's frame (rotation by -yaw about z); each axis
    contributes logsigmoid((half_extent + margin - |offset|) / softness).
    """
    d = xyz[None, :, :] - center[:, None, :]  # (K, N, 3)
    cos, sin = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    local = torch.stack(
        [cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1], d[..., 2]], dim=-1
    )
    half = 0.5 * size[:, None, :] + margin
    return log_sigmoid((half - local.abs()) / softness).sum(-1).clamp_min(LOG_GATE_FLOOR)


class MaskHead(nn.Module):
    def __init__(self, dim: int, margin: float, softness: float, refine_iters: int) -> None:
        super().__init__()
        if refine_iters < 0:
            raise ValueError(f"mask_refine_iters must be >= 0, got {refine_iters}")
        self.margin, self.softness, self.refine_iters = margin, softness, refine_iters
        self.point_embed = nn.Sequential(
            nn.LayerNorm(2 * dim), nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim)
        )
        self.kernel = nn.Sequential(
            nn.LayerNorm(2 * dim), nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim)
        )

    def forward(
        self,
        point_feat: torch.Tensor,
        xyz: torch.Tensor,
        queries: torch.Tensor,
        boxes: dict[str, torch.Tensor],
        text: torch.Tensor,
        memory: MemoryRecall,
    ) -> dict[str, torch.Tensor]:
        """-> mask logits of every pass (R+1, K, N), and per-slot pooled box features (K, d)."""
        log_gate = soft_box_log_gate(
            xyz,
            boxes["box_center"].detach(),
            boxes["box_size"].detach(),
            boxes["box_yaw"].detach(),
            self.margin,
            self.softness,
        )
        text_recalled = memory.recall_text(text)
        recalled = memory.recall_points(text, point_feat)
        emb = self.point_embed(torch.cat([point_feat, recalled], dim=-1))
        scale = 1.0 / math.sqrt(emb.shape[-1])
        bias = log_gate
        passes = []
        for _ in range(self.refine_iters + 1):
            slot = memory.pool_slots(text_recalled, recalled, bias)
            kernel = self.kernel(torch.cat([slot, queries], dim=-1))
            logits = scale * kernel @ emb.T + log_gate
            passes.append(logits)
            bias = log_sigmoid(logits)
        weights = torch.sigmoid(passes[-1])
        box_feat = (weights @ point_feat) / weights.sum(-1, keepdim=True).clamp_min(1e-6)
        return {
            "mask_logits_passes": torch.stack(passes),
            "mask_logits": passes[-1],
            "box_feat": box_feat,
        }
