"""Evaluation: run a predictor over a split and summarise every metric (DESIGN "Metrics")."""

from query3d.training.evaluation.evaluate import (
    Predictor,
    evaluate,
    flat_metrics,
    score_sample,
    target_categories,
    truth_boxes,
)
from query3d.training.evaluation.report import format_table

__all__ = ["Predictor", "evaluate", "flat_metrics", "format_table", "score_sample",
           "target_categories", "truth_boxes"]
