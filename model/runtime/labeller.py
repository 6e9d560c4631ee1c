"""Open-vocabulary labelling of a cloud from a list of class names (XMask3D, issue 14).

The same network and checkpoint as referring: the semantic head reads the text-free
encoders' output, so the point policy, the preprocessed frame and the encoding of a cloud
are shared with the Segmenter's commands. Class lists are embedded once per list (prompt
ensembling, ``heads.semantic``) and cached.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from query3d.model.encoders import TextEncoder
from query3d.model.export.frame_graph import NewestEncoding
from query3d.model.heads.semantic import embed_class_names
from query3d.model.mrcosmo import MRCosmo
from query3d.model.preprocess import FrameInputs


class SemanticLabeller:
    """Class-name embeddings (cached per list) + the semantic head over one frame."""

    def __init__(self, net: MRCosmo, text_encoder: TextEncoder, encodings: NewestEncoding,
                 cache_size: int = 16, use_image: bool = True,
                 trained_names: list[str] | None = None) -> None:
        if getattr(net, "semantic", None) is None:
            raise ValueError("this checkpoint has no semantic head (model.semantic_head); "
                             "train one with `query3d train --task semantic`")
        self.net = net
        self.text_encoder = text_encoder
        self.use_image = use_image
        self.trained_names = set(trained_names or [])
        self._names: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self.encodings = encodings  # the Segmenter's: shared with its torch graph

    def class_embeddings(self, classes: list[str]) -> torch.Tensor:
        key = tuple(classes)
        if key in self._names:
            self._names.move_to_end(key)
            return self._names[key]
        with torch.inference_mode():
            embeddings = embed_class_names(self.text_encoder, list(classes))
        self._names[key] = embeddings
        while len(self._names) > self._cache_size:
            self._names.popitem(last=False)
        return embeddings

    def probabilities(self, frame: FrameInputs, frame_key: str, classes: list[str],
                      seen_penalty: float = 0.0) -> torch.Tensor:
        """(N, C) class probabilities of the frame's points (a point's = its superpoint's).

        ``seen_penalty``: cosine similarity taken off the names the head trained on
        (calibrated stacking, as generalised zero-shot methods do): a head trained only on
        its names scores them higher than any new name, and this evens the odds."""
        embeddings = self.class_embeddings(classes)
        with torch.inference_mode():
            encoding = self.encodings(self.net, frame, frame_key)
            out = self.net.label(frame, embeddings, encoding, self.use_image)
            logits = out["semantic_logits"].float()
            if seen_penalty:
                seen = torch.tensor([n in self.trained_names for n in classes])
                scale = self.net.semantic.logit_scale.exp().clamp(max=100.0).float()
                logits = logits - scale * seen_penalty * seen.to(logits.dtype)
        return torch.softmax(logits, dim=-1)
