"""Hungarian matching of detection slots to targets (scipy's linear_sum_assignment)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from query3d.model.losses.targets import QueryTargets


@dataclass
class MatchCosts:
    referred: float = 2.0
    classes: float = 1.0
    box: float = 5.0
    mask: float = 2.0
    dice: float = 2.0


@torch.no_grad()
def match_cost_matrix(
    raw: dict[str, torch.Tensor], targets: QueryTargets, costs: MatchCosts
) -> torch.Tensor:
    """(K, T) cost of giving target t to slot k: score, class, box L1 and mask terms.

    The mask terms are computed with matmuls over points, (K, N) x (N, T), so no (K, T, N)
    tensor is built.
    """
    logits = raw["mask_logits"].float()
    y = targets.masks.to(logits)
    n = max(logits.shape[-1], 1)
    bce = (F.softplus(-logits) @ y.T + F.softplus(logits) @ (1.0 - y).T) / n
    p = torch.sigmoid(logits)
    dice = 1.0 - (2.0 * p @ y.T + 1.0) / (p.sum(-1, keepdim=True) + y.sum(-1)[None] + 1.0)
    box = torch.cdist(raw["box_center"].float(), targets.box_center.to(logits), p=1) + torch.cdist(
        raw["box_size"].float(), targets.box_size.to(logits), p=1
    )
    ref = -torch.sigmoid(raw["ref_logit"].float())[:, None]
    probs = raw["class_logits"].float().softmax(-1)
    known = targets.classes.clamp_min(0)
    cls = -probs[:, known] * (targets.classes >= 0).to(probs)[None]
    return (
        costs.referred * ref
        + costs.classes * cls
        + costs.box * box
        + costs.mask * bce
        + costs.dice * dice
    )


def hungarian_match(
    raw: dict[str, torch.Tensor], targets: QueryTargets, costs: MatchCosts
) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (slot indices, target indices), each (min(K, T),), int64 on raw's device."""
    device = raw["ref_logit"].device
    if targets.num_targets == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty
    cost = match_cost_matrix(raw, targets, costs)
    if not torch.isfinite(cost).all():
        raise ValueError("matching cost has NaN/inf entries: the network output is not finite")
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return (
        torch.as_tensor(rows, dtype=torch.long, device=device),
        torch.as_tensor(cols, dtype=torch.long, device=device),
    )
