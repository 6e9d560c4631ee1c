"""The torch network as a ``Sample -> QueryResult`` predictor (what evaluation scores).

The same path a robot takes: preprocess the whole cloud, encode the sentence, run the
frame graph, decode fired slots into targets. No augmentation, no point cap, so the
answer covers every point of the scene.
"""

from __future__ import annotations

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

    @torch.no_grad()
    def __call__(self, sample: Sample) -> QueryResult:
        was_training = self.model.training
        self.model.eval()
        try:
            device = next(self.model.parameters()).device
            scene = sample.scene
            frame = prepare_frame(scene.points, scene.colors, self.cfg,
                                  cameras=scene.cameras or None, device=device)
            raw = self.model(frame, self._encode(sample.query.text))
            return decode(raw, frame, self.decision, sample.query.text, scene.class_names)
        finally:
            self.model.train(was_training)
