"""Referring / generalised referring segmentation scores (ScanRefer, Multi3DRefer, GRES).

A query may name zero, one or many objects. Per sample we keep a small record (mask
IoU, matched box IoUs, split, kind, categories) so that records from several processes
can be merged before the summary is taken, and every grouping (by split, kind,
category) is computed from the same records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from query3d.data.sample import EVAL_TYPES
from query3d.training.metrics.boxes import match_boxes

THRESHOLDS = (0.25, 0.5)


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mask IoU with the GRES zero-target rule.

    A sample whose truth is empty (the query names nothing in the scene) scores 1 when
    nothing is predicted and 0 otherwise: an empty answer is the correct answer there,
    and plain IoU would be 0/0.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction mask has shape {pred.shape}, truth has {gt.shape}")
    pred, gt = pred.astype(bool), gt.astype(bool)
    if not gt.any():
        return 0.0 if pred.any() else 1.0
    inter = np.count_nonzero(pred & gt)
    union = np.count_nonzero(pred | gt)
    return inter / union


def _box_sample_scores(pred_boxes: Sequence, gt_boxes: Sequence) -> dict[str, float]:
    """Box IoU / F1 / exact-answer for one sample (zero-target rule as for masks)."""
    n_pred, n_gt = len(pred_boxes), len(gt_boxes)
    if n_gt == 0:
        hit = 1.0 if n_pred == 0 else 0.0
        out = {"box_iou": hit}
        for t in THRESHOLDS:
            out[f"box_f1@{t}"] = hit
            out[f"box_acc@{t}"] = hit
        return out
    matched = match_boxes(pred_boxes, gt_boxes)
    out = {"box_iou": float(matched.sum() / max(n_pred, n_gt))}
    for t in THRESHOLDS:
        tp = int(np.count_nonzero(matched > t))
        out[f"box_f1@{t}"] = 2.0 * tp / (n_pred + n_gt)
        out[f"box_acc@{t}"] = 1.0 if tp == n_gt == n_pred else 0.0
    return out


@dataclass
class SampleRecord:
    """What one evaluated query contributes to every summary."""

    iou: float
    eval_type: str
    kind: str = "referring"
    categories: list[str] = field(default_factory=list)
    box: dict[str, float] | None = None
    sample_id: str = ""
    text: str = ""  # the command, so a per-query listing reads without the dataset
    scores: list[float] = field(default_factory=list)  # of the answers given, in order

    def to_dict(self) -> dict:
        return asdict(self)


def _summarise(records: Sequence[SampleRecord]) -> dict[str, float]:
    ious = np.array([r.iou for r in records], dtype=np.float64)
    out: dict[str, float] = {"count": len(records)}
    if len(records) == 0:
        return out
    out["miou"] = float(ious.mean())
    for t in THRESHOLDS:
        out[f"acc@{t}"] = float(np.mean(ious > t))
    boxed = [r.box for r in records if r.box is not None]
    if boxed:
        for key in boxed[0]:
            out[key] = float(np.mean([b[key] for b in boxed]))
    return out


class ReferringMetrics:
    """Accumulates per-sample records; ``summary()`` gives every grouping of them."""

    def __init__(self, records: Iterable[SampleRecord] = ()) -> None:
        self.records: list[SampleRecord] = list(records)

    def add(
        self,
        pred_mask: np.ndarray,
        gt_mask: np.ndarray,
        *,
        eval_type: str,
        kind: str = "referring",
        categories: Sequence[str] = (),
        pred_boxes: Sequence | None = None,
        gt_boxes: Sequence | None = None,
        sample_id: str = "",
        text: str = "",
        scores: Sequence[float] = (),
    ) -> SampleRecord:
        """Score one query; boxes are optional (pass both or neither). ``text`` and
        ``scores`` (the answers' scores) are kept for per-query listings only."""
        if eval_type not in EVAL_TYPES:
            raise ValueError(f"eval_type must be one of {EVAL_TYPES}, got {eval_type!r}")
        if (pred_boxes is None) != (gt_boxes is None):
            raise ValueError("pass both pred_boxes and gt_boxes, or neither")
        box = None if gt_boxes is None else _box_sample_scores(pred_boxes, gt_boxes)
        record = SampleRecord(mask_iou(pred_mask, gt_mask), eval_type, kind,
                              sorted(set(categories)), box, sample_id, text,
                              [float(x) for x in scores])
        self.records.append(record)
        return record

    def merge(self, records: Iterable[SampleRecord]) -> None:
        self.records.extend(records)

    def summary(self) -> dict:
        """Overall, per zero/single/multi-target split, per query kind, per category.

        Zero-target accuracy is the share of zero-target queries answered with nothing
        (their IoU is 1 exactly then). A sample counts once for each distinct category
        among its targets; zero-target samples have no category.
        """
        out: dict = _summarise(self.records)
        out["by_eval_type"] = {
            t: _summarise([r for r in self.records if r.eval_type == t]) for t in EVAL_TYPES
        }
        zero = [r for r in self.records if r.eval_type == "zt"]
        if zero:
            out["zero_target_accuracy"] = float(np.mean([r.iou == 1.0 for r in zero]))
        kinds = sorted({r.kind for r in self.records})
        out["by_kind"] = {k: _summarise([r for r in self.records if r.kind == k])
                          for k in kinds}
        cats = sorted({c for r in self.records for c in r.categories})
        out["by_category"] = {c: _summarise([r for r in self.records if c in r.categories])
                              for c in cats}
        return out
