"""Score a predictor on a split: every referring / GRES metric, sharded over ranks.

The predictor is any ``Sample -> QueryResult`` function (the torch network, an ONNX or
TensorRT runtime), so one definition of the numbers serves training-time validation,
``query3d eval`` and backend comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tqdm import tqdm

from query3d.data.sample import Sample
from query3d.model.output import QueryResult
from query3d.training.metrics import Box3D, ReferringMetrics, SampleRecord
from query3d.training.trainer.distributed import DistContext, gather_objects

Predictor = Callable[[Sample], QueryResult]


def truth_boxes(sample: Sample) -> list[Box3D]:
    """Boxes of the objects the query names (none for a zero-target query)."""
    return [Box3D.of(o.center, o.size, o.yaw)
            for o in (sample.scene.object(i) for i in sample.query.object_ids)]


def target_categories(sample: Sample) -> list[str]:
    return [sample.scene.object(i).category for i in sample.query.object_ids]


def score_sample(metrics: ReferringMetrics, sample: Sample, result: QueryResult
                 ) -> SampleRecord:
    """Add one prediction to ``metrics``: union mask vs union truth, boxes matched 1:1."""
    if result.num_points != len(sample.scene.points):
        raise ValueError(f"prediction for {sample.scene.scene_id} covers {result.num_points} "
                         f"points, the scene has {len(sample.scene.points)}")
    pred_boxes = [Box3D.of(t.box_center, t.box_size, t.box_yaw) for t in result.targets]
    has_boxes = bool(sample.scene.objects) or not sample.query.object_ids
    return metrics.add(
        result.union_mask(), sample.target_mask(), eval_type=sample.query.eval_type,
        kind=sample.query.kind, categories=target_categories(sample),
        pred_boxes=pred_boxes if has_boxes else None,
        gt_boxes=truth_boxes(sample) if has_boxes else None,
        sample_id=f"{sample.scene.scene_id}/{sample.query.ann_id}", text=sample.query.text,
        scores=[t.score for t in result.targets])


def evaluate(
    predict: Predictor,
    dataset: Sequence[Sample],
    max_samples: int = 0,
    ctx: DistContext = DistContext(),
    progress: bool = True,
) -> dict[str, Any]:
    """Summary of ``ReferringMetrics`` over ``dataset`` (or its first ``max_samples``)."""
    return evaluate_all({"model": predict}, dataset, max_samples, ctx, progress)["model"]


def evaluate_all(
    predictors: Mapping[str, Predictor],
    dataset: Sequence[Sample],
    max_samples: int = 0,
    ctx: DistContext = DistContext(),
    progress: bool = True,
    per_query: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """One summary per predictor, all scored on the same samples, each loaded once; the
    predictors named in ``per_query`` also list every query (``summary["queries"]``: its
    id, text, kind, IoU, box scores and the answers' scores), to find what fails.

    Each rank scores indices ``rank::world_size``; the per-sample records are gathered so
    every rank returns the same summaries of the whole split.
    """
    count = len(dataset) if max_samples <= 0 else min(max_samples, len(dataset))
    if count == 0:
        raise ValueError("evaluation split is empty")
    mine = range(ctx.rank, count, ctx.world_size)
    metrics = {name: ReferringMetrics() for name in predictors}
    for index in tqdm(mine, desc="eval", leave=False, disable=not (progress and ctx.is_main),
                      dynamic_ncols=True):
        sample = dataset[index]
        for name, predict in predictors.items():
            score_sample(metrics[name], sample, predict(sample))
    out = {}
    for name, own in metrics.items():
        merged = ReferringMetrics()
        for records in gather_objects(own.records):
            merged.merge(records)
        merged.records.sort(key=lambda r: r.sample_id)
        out[name] = merged.summary()
        if name in per_query:
            out[name]["queries"] = [r.to_dict() for r in merged.records]
    return out


def flat_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Top-level numbers plus ``<split>/<key>`` for zero/single/multi-target, for
    TensorBoard and for choosing ``best.pt``."""
    out = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float))}
    for split, numbers in summary.get("by_eval_type", {}).items():
        for key, value in numbers.items():
            if key != "count" and isinstance(value, (int, float)):
                out[f"{split}/{key}"] = float(value)
    return out
