"""``query3d eval``: a checkpoint on a split -> every metric (one process or torchrun)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from query3d.model.checkpoint import load_checkpoint, model_from_state
from query3d.training.evaluation.baselines import baseline_predictors, other_text_predictor
from query3d.training.evaluation.evaluate import evaluate_all
from query3d.training.evaluation.predict import ModelPredictor
from query3d.training.evaluation.provenance import seen_in_training
from query3d.training.trainer.data import open_split
from query3d.training.trainer.distributed import cleanup_distributed, init_distributed


def run_evaluation(checkpoint: str | Path, data: str | Path, split: str = "val",
                   max_samples: int = 0, device: str = "auto",
                   kind: str | None = None, baselines: bool = True,
                   seed: int = 0, score_thresholds: tuple[float, ...] = (),
                   slot_score: str | None = None,
                   limit_by_grammar: bool | None = None,
                   best_slots: bool = False) -> dict[str, Any]:
    """The summary of ``ReferringMetrics`` plus where it came from and how long it took;
    with ``baselines``, the trivial baselines' summaries on the same samples under
    ``summary["baselines"]``; each of ``score_thresholds`` is scored too (one forward per
    sample for all of them) under ``summary["by_score_threshold"]``. ``slot_score``
    replaces the checkpoint's ``decision.slot_score`` for all of them, ``limit_by_grammar``
    its ``decision.limit_by_grammar`` (None: keep the checkpoint's). ``summary["seen_by"]``
    lists the parts of the checkpoint that trained on this split's scans (empty: held out),
    ``summary["queries"]`` each query's row (``evaluate_all``'s ``per_query``); with
    ``best_slots`` the oracle of the best slot per target (``ModelPredictor.best_slots``)
    under ``summary["best_slots"]``.
    """
    ctx = init_distributed(device)
    try:
        cfg, state = load_checkpoint(checkpoint)
        model = model_from_state(cfg, state, checkpoint, ctx.device)
        kind = kind or cfg.data.kind
        samples = open_split(kind, data, split, cfg.data.max_points)
        seen_by = seen_in_training(cfg, state.get("extra"), kind, data, split)
        start = time.perf_counter()
        changes = {k: v for k, v in (("slot_score", slot_score),
                                     ("limit_by_grammar", limit_by_grammar)) if v is not None}
        decision = dataclasses.replace(cfg.decision, **changes)
        network = ModelPredictor(model, cfg.model, decision)
        predictors = {"model": network}
        for t in score_thresholds:
            predictors[f"score>{t:g}"] = network.with_score_threshold(t)
        if best_slots:
            predictors["best_slots"] = network.best_slots
        if baselines:
            predictors.update(baseline_predictors(seed))
            texts = [r["description"] for r in getattr(samples, "records", [])]
            if len(set(texts)) >= 2:
                predictors["model_with_another_query"] = other_text_predictor(network, texts,
                                                                              seed)
        summaries = evaluate_all(predictors, samples, max_samples, ctx, per_query=("model",))
        summary = summaries.pop("model")
        if score_thresholds:
            summary["by_score_threshold"] = {f"{t:g}": summaries.pop(f"score>{t:g}")
                                             for t in score_thresholds}
        if best_slots:
            summary["best_slots"] = summaries.pop("best_slots")
        if baselines:
            summary["baselines"] = summaries
        summary.update(checkpoint=str(checkpoint), data=str(data), split=split, seen_by=seen_by,
                       data_kind=kind, preset=cfg.preset, slot_score=decision.slot_score,
                       limit_by_grammar=decision.limit_by_grammar,
                       wall_s=time.perf_counter() - start)
        return summary
    finally:
        cleanup_distributed()
