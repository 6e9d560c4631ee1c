"""The torch network as a ``Sample -> QueryResult`` predictor (what evaluation scores).

The same path a robot takes: preprocess the whole cloud, encode the sentence, run the
frame graph, decode fired slots into targets. No augmentation, no point cap, so the
answer covers every point of the scene.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from query3d.config import DecisionConfig, ModelConfig
from query3d.data.sample import Sample
from query3d.model.encoders import TextFeatures
from query3d.model.output import QueryResult
from query3d.model.postprocess import decode
from query3d.model.preprocess import prepare_frame
from query3d.model.runtime.text_cache import TextFeatureCache


class ModelPredictor:
    def __init__(self, model: nn.Module, cfg: ModelConfig, decision: DecisionConfig,
                 text_cache_size: int = 256) -> None:
        self.model, self.cfg, self.decision = model, cfg, decision
        self._encode: TextFeatureCache[TextFeatures] = TextFeatureCache(model.encode_text,
                                                                        text_cache_size)

        self._last: tuple[Sample, Any, Any] | None = None  # (the sample, raw, frame)

    @torch.no_grad()
    def forward(self, sample: Sample) -> tuple[Any, Any]:
        """The network's raw outputs and the frame for a sample; the last sample's are
        kept, so several decisions (thresholds) can be scored on one forward."""
        if self._last is not None and self._last[0] is sample:  # held: never a reused id
            return self._last[1], self._last[2]
        was_training = self.model.training
        self.model.eval()
        try:
            device = next(self.model.parameters()).device
            scene = sample.scene
            frame = prepare_frame(scene.points, scene.colors, self.cfg,
                                  cameras=scene.cameras or None, device=device)
            raw = self.model(frame, self._encode(sample.query.text))
        finally:
            self.model.train(was_training)
        self._last = (sample, raw, frame)
        return raw, frame

    def __call__(self, sample: Sample) -> QueryResult:
        return self.decide(sample, self.decision)

    def decide(self, sample: Sample, decision: DecisionConfig) -> QueryResult:
        raw, frame = self.forward(sample)
        return decode(raw, frame, decision, sample.query.text, sample.scene.class_names)

    def best_slots(self, sample: Sample) -> QueryResult:
        """An oracle, not a decision: each target object answered by the slot whose mask
        covers it best (IoU), an absent one by nothing. How far the network's slots reach
        whatever picks among them (the scorer, a threshold): an ablation reading that
        does not depend on a calibration."""
        raw, frame = self.forward(sample)
        masks = raw["mask_logits"].reshape(raw["mask_logits"].shape[-2], -1).cpu().numpy()
        inside = masks > np.log(self.decision.mask_threshold / (1 - self.decision.mask_threshold))
        chosen = set()
        for object_id in sample.query.object_ids:
            truth = sample.scene.instance == object_id
            union = (inside | truth).sum(1)
            chosen.add(int(np.argmax((inside & truth).sum(1) / np.maximum(union, 1))))
        logit = torch.full(masks.shape[:1], -20.0)
        logit[sorted(chosen)] = 20.0
        oracle = {**raw, "ref_logit": logit}
        decision = dataclasses.replace(self.decision, slot_score="referred",
                                       score_threshold=0.5, limit_by_grammar=False,
                                       superlative_share=1.0, split_gap=0.0, dedup_overlap=1.0)
        return decode(oracle, frame, decision, sample.query.text, sample.scene.class_names)

    def with_score_threshold(self, threshold: float) -> Callable[[Sample], QueryResult]:
        """This network under another score threshold (for choosing it on val data)."""
        decision = dataclasses.replace(self.decision, score_threshold=threshold)
        return lambda sample: self.decide(sample, decision)
