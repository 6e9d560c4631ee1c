"""Metrics of DESIGN.md "Metrics": referring / GRES masks, oriented 3D boxes, semantic
and open-vocabulary segmentation. Pure numpy (plus shapely for box overlap) so the
evaluation, the benchmark verb and the tests share one definition of every number."""

from query3d.training.metrics.boxes import Box3D, box3d_iou, box_iou_matrix, match_boxes
from query3d.training.metrics.referring import (
    THRESHOLDS,
    ReferringMetrics,
    SampleRecord,
    mask_iou,
)
from query3d.training.metrics.semantic import (
    confusion_matrix,
    harmonic_iou,
    open_vocab_scores,
    semantic_scores,
)

__all__ = [
    "THRESHOLDS",
    "Box3D",
    "ReferringMetrics",
    "SampleRecord",
    "box3d_iou",
    "box_iou_matrix",
    "confusion_matrix",
    "harmonic_iou",
    "mask_iou",
    "match_boxes",
    "open_vocab_scores",
    "semantic_scores",
]
