"""Semantic segmentation scores (S3DIS / SemanticKITTI) and the open-vocabulary hIoU.

Everything is derived from one confusion matrix, so per-scene matrices can be summed
over a split (and over processes) before any ratio is taken.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int = -1
) -> np.ndarray:
    """(C, C) counts, rows = truth, columns = prediction; ``ignore_index`` truth is skipped."""
    pred = np.asarray(pred).reshape(-1).astype(np.int64)
    gt = np.asarray(gt).reshape(-1).astype(np.int64)
    if pred.shape != gt.shape:
        raise ValueError(f"{len(pred)} predictions for {len(gt)} labels")
    keep = gt != ignore_index
    pred, gt = pred[keep], gt[keep]
    bad = (gt < 0) | (gt >= num_classes) | (pred < 0) | (pred >= num_classes)
    if bad.any():
        raise ValueError(f"labels must lie in [0, {num_classes}) or equal ignore_index "
                         f"{ignore_index}; found e.g. truth {gt[bad][0]}, pred {pred[bad][0]}")
    flat = np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def semantic_scores(conf: np.ndarray) -> dict:
    """OA, mAcc, mIoU and per-class IoU; a class absent from truth and prediction is
    left out of the means (its IoU is NaN) rather than counted as 0 or 1."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    gt_count = conf.sum(axis=1)
    pred_count = conf.sum(axis=0)
    union = gt_count + pred_count - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(gt_count > 0, tp / gt_count, np.nan)
        iou = np.where(union > 0, tp / union, np.nan)
    total = conf.sum()
    return {
        "oa": float(tp.sum() / total) if total > 0 else float("nan"),
        "macc": float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "iou_per_class": iou.tolist(),
    }


def harmonic_iou(base_miou: float, novel_miou: float) -> float:
    """hIoU = 2BN/(B+N): high only when both seen and unseen classes are segmented."""
    if base_miou + novel_miou <= 0:
        return 0.0
    return 2.0 * base_miou * novel_miou / (base_miou + novel_miou)


def open_vocab_scores(
    conf: np.ndarray, base_classes: Sequence[int], novel_classes: Sequence[int]
) -> dict:
    """mIoU over base and novel classes and their harmonic mean (XMask3D protocol)."""
    base, novel = set(base_classes), set(novel_classes)
    if base & novel:
        raise ValueError(f"classes {sorted(base & novel)} are both base and novel")
    iou = np.array(semantic_scores(conf)["iou_per_class"])
    for name, ids in (("base", base), ("novel", novel)):
        if not ids or max(ids) >= len(iou) or min(ids) < 0:
            raise ValueError(f"{name} classes {sorted(ids)} must be non-empty ids < {len(iou)}")
    b = float(np.nanmean(iou[sorted(base)]))
    n = float(np.nanmean(iou[sorted(novel)]))
    return {"miou_base": b, "miou_novel": n, "hiou": harmonic_iou(b, n)}
