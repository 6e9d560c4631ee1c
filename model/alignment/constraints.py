"""Alignment Constraints Block (MR-COSMO Eq. 1) and its symmetric cross-entropy (Eq. 14)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _encoder(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim), nn.LayerNorm(out_dim)
    )


class AlignmentConstraints(nn.Module):
    """Encoders_ind of Eq. 1: independent image and text encoders into the n_d space.

    They are separate modules (no shared weights) so the contrastive loss can pull the two
    modalities together before either meets 3D features. ``logit_scale`` is the learnable
    inverse temperature of the cosine-similarity matrix, started at 1/0.07 as in CLIP.
    """

    def __init__(self, text_dim: int, image_dim: int, dim: int) -> None:
        super().__init__()
        self.text_encoder = _encoder(text_dim, dim)
        self.image_encoder = _encoder(image_dim, dim) if image_dim > 0 else None
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_text(self, f_txt: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(f_txt)

    def encode_image(self, f_image: torch.Tensor) -> torch.Tensor:
        if self.image_encoder is None:
            raise ValueError("this model was built without an image branch (image_dim == 0)")
        return self.image_encoder(f_image)


def symmetric_cross_entropy(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: torch.Tensor,
    gamma: float = 1.0,
    delta: float = 1.0,
    log_zero: float = -4.0,
) -> torch.Tensor:
    """Eq. 14 on the B x B cosine-similarity matrix of B matching image-text pairs.

    Targets are the diagonal. Eq. 14 is the SCE of Wang et al. (2019): gamma * CE(y, p) +
    delta * reverse-CE(p, y), where log(0) of a one-hot label is clamped to ``log_zero``
    (A = -4 there). It is applied image->text (rows) and text->image (columns) and the two
    directions are averaged, which makes the loss symmetric in the modalities as the
    paper's text describes. Rows are averaged (mean, not sum) so the scale does not grow
    with the batch. Fewer than two pairs give no contrast: the loss is 0 (still attached to
    the graph so callers may add it unconditionally).
    """
    if image_emb.shape != text_emb.shape or image_emb.dim() != 2:
        raise ValueError(
            f"image and text embeddings must both be (B, D); got {tuple(image_emb.shape)} "
            f"and {tuple(text_emb.shape)}"
        )
    b = image_emb.shape[0]
    if b < 2:
        return (image_emb.sum() + text_emb.sum() + logit_scale) * 0.0
    logits = logit_scale.exp().clamp(max=100.0) * (
        F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    )
    target = torch.arange(b, device=logits.device)
    total = logits.new_zeros(())
    for direction in (logits, logits.T):
        ce = F.cross_entropy(direction, target)
        prob = direction.softmax(dim=-1)
        # -sum_j p_j log y_j: log y = 0 on the diagonal, log_zero elsewhere.
        off_diagonal = prob.sum(dim=-1) - prob.diagonal()
        rce = -(log_zero * off_diagonal).mean()
        total = total + gamma * ce + delta * rce
    return total / 2
