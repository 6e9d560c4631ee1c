"""The training objective (MR-COSMO Eq. 12-13) over a batch of single-query forwards.

L_all = alpha (L_smoothL1 + L_WCE) + beta L_BCE + L_DCMA, with gamma and delta inside
L_DCMA (Eq. 14). L_WCE covers both the slot's "referred / not referred" decision (two
classes; unmatched slots are the "not referred" class, weighted by ``noobj_weight``)
and the matched slots' category. An auxiliary seed-relevance term (alpha-weighted) trains
the language-guided selection, whose top-k passes no gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from query3d.config import LossConfig
from query3d.model.alignment.constraints import symmetric_cross_entropy
from query3d.model.losses.matching import MatchCosts, hungarian_match
from query3d.model.losses.targets import QueryTargets
from query3d.model.losses.terms import (
    binary_cross_entropy,
    dice_loss,
    smooth_l1,
    weighted_cross_entropy,
)


@dataclass
class MemoryItems:
    """Feature pairs to store after a step: one row per matched (slot, target)."""

    text: torch.Tensor  # (M, d)
    visual: torch.Tensor  # (M, d)
    category: torch.Tensor  # (M,)
    bce: torch.Tensor  # (M,) L_BCE of the pair (Eq. 9)


@dataclass
class LossOutput:
    total: torch.Tensor
    terms: dict[str, torch.Tensor]
    matches: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    memory_items: MemoryItems | None = None


@torch.no_grad()
def covers_a_target(mask_logits: torch.Tensor, target_masks: torch.Tensor,
                    threshold: float) -> torch.Tensor:
    """(K,) bool: the slot's own mask (logit > 0) overlaps some target by IoU >= threshold.

    mask_logits (K, N), target_masks (T, N) in {0, 1}; no gradient (a label, not a cost)."""
    predicted = (mask_logits > 0).to(torch.float32)
    targets = target_masks.to(predicted)
    inter = predicted @ targets.T  # (K, T)
    union = predicted.sum(1, keepdim=True) + targets.sum(1)[None] - inter
    iou = inter / union.clamp_min(1.0)
    return (iou >= threshold).any(dim=1)


def box_vector(center: torch.Tensor, size: torch.Tensor, yaw_or_vec: torch.Tensor) -> torch.Tensor:
    """(M, 8): centre, size, (cos 2 yaw, sin 2 yaw); accepts a yaw (M,) or its vector (M, 2)."""
    if yaw_or_vec.dim() == 1:
        yaw_or_vec = torch.stack([torch.cos(2 * yaw_or_vec), torch.sin(2 * yaw_or_vec)], dim=-1)
    return torch.cat([center, size, yaw_or_vec], dim=-1)


class MRCosmoLoss:
    def __init__(self, cfg: LossConfig, num_classes: int) -> None:
        self.cfg = cfg
        self.costs = MatchCosts(
            cfg.match_cost_referred,
            cfg.match_cost_class,
            cfg.match_cost_box,
            cfg.match_cost_mask,
            cfg.match_cost_dice,
        )
        self.class_weights = (
            torch.tensor(cfg.class_weights, dtype=torch.float32) if cfg.class_weights else None
        )
        if self.class_weights is not None and len(self.class_weights) != num_classes:
            raise ValueError(
                f"class_weights has {len(self.class_weights)} entries, "
                f"model.num_classes is {num_classes}"
            )

    def __call__(
        self, raws: list[dict[str, torch.Tensor]], targets: list[QueryTargets]
    ) -> LossOutput:
        if len(raws) != len(targets) or not raws:
            raise ValueError(
                f"need one target per forward output, got {len(raws)} outputs and "
                f"{len(targets)} targets"
            )
        cfg = self.cfg
        ref_terms, seed_terms, matches = [], [], []
        box_pred, box_true, cls_logits, cls_true, bce_rows, dice_rows = [], [], [], [], [], []
        mem_text, mem_vis, mem_cat, mem_bce = [], [], [], []
        for raw, tgt in zip(raws, targets):
            n = raw["mask_logits"].shape[-1]
            if tgt.masks.shape[1] != n:
                raise ValueError(
                    f"target masks cover {tgt.masks.shape[1]} points, the frame has {n}"
                )
            slots, tids = hungarian_match(raw, tgt, self.costs)
            matches.append((slots, tids))
            referred = torch.zeros_like(raw["ref_logit"], dtype=torch.long)
            referred[slots] = 1
            if cfg.referred_assignment == "mask_iou" and tgt.masks.shape[0] > 0:
                referred[covers_a_target(raw["mask_logits"], tgt.masks, cfg.referred_iou)] = 1
            two_class = torch.stack([torch.zeros_like(raw["ref_logit"]), raw["ref_logit"]], -1)
            ref_weights = two_class.new_tensor([cfg.noobj_weight, 1.0])
            ref_terms.append(weighted_cross_entropy(two_class, referred, ref_weights))
            union = tgt.masks.any(0).to(raw["seed_logits"])[raw["seed_points"]]
            seed_term = binary_cross_entropy(raw["seed_logits"], union)
            if cfg.seed_ranking > 0 and bool(union.any()):
                # the targets' share of a softmax over all candidates: "an object" scores
                # nothing here, only "the object this sentence names" does
                log_share = torch.logsumexp(raw["seed_logits"].masked_fill(union == 0, -1e4), 0) \
                    - torch.logsumexp(raw["seed_logits"], 0)
                seed_term = seed_term - cfg.seed_ranking * log_share
            seed_terms.append(seed_term)
            if len(slots) == 0:
                continue
            box_pred.append(
                box_vector(
                    raw["box_center"][slots], raw["box_size"][slots], raw["box_yaw_vec"][slots]
                )
            )
            box_true.append(
                box_vector(tgt.box_center[tids], tgt.box_size[tids], tgt.box_yaw[tids]).to(
                    box_pred[-1]
                )
            )
            cls_logits.append(raw["class_logits"][slots])
            cls_true.append(tgt.classes[tids].to(raw["class_logits"].device))
            y = tgt.masks[tids].to(raw["mask_logits"])
            passes = raw["mask_logits_passes"][:, slots]  # (P, M, N)
            bce = binary_cross_entropy(passes, y.expand_as(passes))  # (P, M)
            bce_rows.append(bce.mean(0))
            dice_rows.append(dice_loss(raw["mask_logits"][slots], y))
            feats = raw["point_feat"].detach()
            mem_text.append(raw["memory_text"].detach().expand(len(slots), -1))
            mem_vis.append((y @ feats) / y.sum(-1, keepdim=True).clamp_min(1.0))
            mem_cat.append(tgt.classes[tids])
            mem_bce.append(bce[-1].detach())
        zero = raws[0]["ref_logit"].sum() * 0.0
        terms = {
            "referred_wce": torch.stack(ref_terms).mean(),
            "seed": torch.stack(seed_terms).mean(),
            "smooth_l1": smooth_l1(torch.cat(box_pred), torch.cat(box_true), cfg.smooth_l1_eps)
            if box_pred
            else zero,
            "class_wce": weighted_cross_entropy(
                torch.cat(cls_logits),
                torch.cat(cls_true),
                None if self.class_weights is None else self.class_weights.to(zero.device),
            )
            if cls_logits
            else zero,
            "bce": torch.cat(bce_rows).mean() if bce_rows else zero,
            "dice": torch.cat(dice_rows).mean() if dice_rows and cfg.dice else zero,
            "dcma": self._dcma(raws, targets, zero),
        }
        det = terms["smooth_l1"] + terms["class_wce"] + cfg.referred_weight * terms[
            "referred_wce"]
        det = det + cfg.seed_weight * terms["seed"]
        seg = terms["bce"] + terms["dice"]
        total = cfg.alpha * det + cfg.beta * seg + terms["dcma"]
        items = None
        if mem_text:
            items = MemoryItems(
                torch.cat(mem_text), torch.cat(mem_vis), torch.cat(mem_cat), torch.cat(mem_bce)
            )
        return LossOutput(total=total, terms=terms, matches=matches, memory_items=items)

    def _dcma(
        self, raws: list[dict[str, torch.Tensor]], targets: list[QueryTargets], zero: torch.Tensor
    ) -> torch.Tensor:
        """Eq. 14 over the batch's matching image-text pairs (queries with a target)."""
        keep = [
            i
            for i, (r, t) in enumerate(zip(raws, targets))
            if "image_emb" in r and "text_emb" in r and t.num_targets > 0
        ]
        if len(keep) < 2:
            return zero
        return symmetric_cross_entropy(
            torch.cat([raws[i]["image_emb"] for i in keep]),
            torch.cat([raws[i]["text_emb"] for i in keep]),
            raws[keep[0]]["dcma_logit_scale"],
            self.cfg.gamma,
            self.cfg.delta,
            self.cfg.sce_log_zero,
        )
