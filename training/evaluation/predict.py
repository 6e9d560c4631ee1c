"""The torch network as a ``Sample -> QueryResult`` predictor (what evaluation scores).

The same path a robot takes: preprocess the whole cloud, encode the sentence, run the
frame graph, decode fired slots into targets. No augmentation, no point cap, so the
answer covers every point of the scene.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from query3d.model.config import ModelConfig
from query3d.model.encoders import TextFeatures
from query3d.model.output import QueryResult
from query3d.model.postprocess import decode
from query3d.model.preprocess import prepare_frame
from query3d.training.data.sample import Sample


class ModelPredictor:
    def __init__(self, model: nn.Module, cfg: ModelConfig, text_cache_size: int = 256) -> None:
        self.model, self.cfg = model, cfg
        self.text_cache_size = text_cache_size
        self._text: OrderedDict[str, TextFeatures] = OrderedDict()

    def _encode(self, text: str) -> TextFeatures:
        hit = self._text.get(text)
        if hit is None:
            hit = self.model.encode_text(text)
            self._text[text] = hit
            while len(self._text) > self.text_cache_size:
                self._text.popitem(last=False)
        return hit

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
            return decode(raw, frame, self.cfg, sample.query.text, scene.class_names)
        finally:
            self.model.train(was_training)
