"""The paper's loss terms (MR-COSMO Eq. 15-17), built on torch's implementations.

Each equation is a standard loss; the functions only fix the reduction the paper uses and
check shapes, so a wrong target layout fails loudly instead of broadcasting.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def smooth_l1(pred: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. 15, averaged over elements: 0.5 d^2 / eps if |d| < eps else |d| - 0.5 eps.

    That is exactly torch's ``smooth_l1_loss`` with ``beta = eps``.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"smooth L1: prediction {tuple(pred.shape)} vs target {tuple(target.shape)}"
        )
    if pred.numel() == 0:
        return pred.sum() * 0.0
    return F.smooth_l1_loss(pred, target, beta=eps)


def weighted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 16: -(1/N) sum_i w_{y_i} log p_{i, y_i}.

    Normalised by N (the number of samples), as written, not by the sum of weights as
    torch's ``reduction='mean'`` would. Labels < 0 are ignored (and not counted in N).
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"WCE: logits (N, C) and labels (N,), got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    keep = labels >= 0
    n = keep.sum()
    if int(n) == 0:
        return logits.sum() * 0.0
    total = F.cross_entropy(logits[keep], labels[keep], weight=class_weights, reduction="sum")
    return total / n


def binary_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 17 on logits, mean over the last axis -> one value per row (..., )."""
    if logits.shape != target.shape:
        raise ValueError(f"BCE: logits {tuple(logits.shape)} vs target {tuple(target.shape)}")
    return F.binary_cross_entropy_with_logits(
        logits, target.to(logits.dtype), reduction="none"
    ).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per row (the optional mask term; HCF-RES uses BCE + Dice)."""
    p = torch.sigmoid(logits)
    t = target.to(p.dtype)
    return 1.0 - (2.0 * (p * t).sum(-1) + smooth) / (p.sum(-1) + t.sum(-1) + smooth)
