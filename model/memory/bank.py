"""Text, visual and pair memory banks with category-balanced weights (MR-COSMO Eq. 8-11).

Banks are registered buffers of fixed capacity, so they travel with ``state_dict`` (the
checkpoint) and the exported graph sees them as constants. Updating happens in Python
outside the graph, with no gradient.
"""

from __future__ import annotations

import torch
from torch import nn


def category_balanced_weights(
    bce: torch.Tensor, category: torch.Tensor, valid: torch.Tensor, tau: float
) -> torch.Tensor:
    """Eq. 9-10: w_i = (1 / (L_i + tau)) / sum_{j in C(i)} 1 / (L_j + tau).

    Low-loss (confident) pairs weigh more, and every category's weights sum to one, so a
    frequent category cannot outvote a rare one. Invalid (empty) slots get weight 0.
    """
    if tau <= 0:
        raise ValueError(f"memory tau must be > 0 (Eq. 9 divides by L_BCE + tau), got {tau}")
    initial = valid.to(bce.dtype) / (bce.clamp_min(0.0) + tau)
    same = (category[:, None] == category[None, :]) & valid[:, None] & valid[None, :]
    per_category = same.to(bce.dtype) @ initial
    return torch.where(valid, initial / per_category.clamp_min(1e-12), torch.zeros_like(bce))


class MemoryBank(nn.Module):
    """M_t, M_v (Eq. 8 pairs them into M_p) with per-entry loss, category and weight."""

    def __init__(self, capacity: int, dim: int, tau: float) -> None:
        super().__init__()
        if capacity < 1:
            raise ValueError(f"memory capacity must be >= 1, got {capacity}")
        self.capacity, self.dim, self.tau = capacity, dim, tau
        self.register_buffer("text", torch.zeros(capacity, dim))
        self.register_buffer("visual", torch.zeros(capacity, dim))
        self.register_buffer("bce", torch.zeros(capacity))
        self.register_buffer("category", torch.full((capacity,), -1, dtype=torch.long))
        self.register_buffer("valid", torch.zeros(capacity, dtype=torch.bool))
        self.register_buffer("weight", torch.zeros(capacity))

    def __len__(self) -> int:
        return int(self.valid.sum())

    def weighted_pairs(self) -> torch.Tensor:
        """Eq. 11: w_i [f_txt^i ; f_box^i], (capacity, 2 dim)."""
        return self.weight[:, None] * torch.cat([self.text, self.visual], dim=-1)

    @torch.no_grad()
    def update(
        self, text: torch.Tensor, visual: torch.Tensor, category: torch.Tensor, bce: torch.Tensor
    ) -> None:
        """Store new pairs, then re-normalise every category's weights (Eq. 10).

        While there is room a pair takes a free slot; when full it replaces the stored pair
        with the highest loss, and only if it has a lower loss itself, so the bank keeps
        the most confident pairs it has seen ("high-confidence (low-loss)" in the paper).
        """
        if text.dim() != 2 or visual.shape != text.shape or text.shape[1] != self.dim:
            raise ValueError(
                f"memory update needs text and visual features of shape (M, {self.dim}); got "
                f"{tuple(text.shape)} and {tuple(visual.shape)}"
            )
        if category.shape != (text.shape[0],) or bce.shape != (text.shape[0],):
            raise ValueError("memory update needs one category and one BCE loss per pair")
        if not torch.isfinite(bce).all():
            raise ValueError("memory update got a non-finite BCE loss")
        for t, v, c, loss in zip(text, visual, category, bce):
            free = (~self.valid).nonzero()
            if len(free):
                slot = int(free[0])
            else:
                slot = int(self.bce.argmax())
                if float(loss) >= float(self.bce[slot]):
                    continue
            self.text[slot] = t.detach().to(self.text)
            self.visual[slot] = v.detach().to(self.visual)
            self.category[slot] = int(c)
            self.bce[slot] = float(loss)
            self.valid[slot] = True
        self.weight.copy_(category_balanced_weights(self.bce, self.category, self.valid, self.tau))

    @torch.no_grad()
    def clear(self) -> None:
        self.valid.zero_()
        self.weight.zero_()
        self.category.fill_(-1)
