"""Open-vocabulary semantic head (XMask3D): every superpoint embedded in the frozen text
encoder's space, so a point is labelled with whichever class *name* lies nearest.

XMask3D's mask-level reasoning without its diffusion model: the superpoints are the 3D
masks, and their projections into the camera views are the geometry-aware 2D masks under
which the image features are pooled (3D-to-2D mask generation); the pooled 2D feature is
fused with the 3D one by a learnt per-mask weight (3D-2D mask feature fusion, Eq. 6 of
HCF-RES); the fused mask feature is pulled towards the embedding of its class name and
pushed from every other name in the batch (2D-to-3D regularisation's contrastive term,
with the text encoder's embeddings as the anchors). Only the head learns: names the
head never saw are scored in the same space, which is what makes them answerable.

The head reads only the text-free encoders (f_point + f_voxel, image evidence), so one
``encode_frame`` serves a referring command and a class list alike.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from query3d.model.heads.superpoint_tokens import SuperpointPooling, SuperpointStats

# Prompt ensembling (as CLIP-style open-vocabulary segmenters do): a name is the mean of
# these sentences' embeddings, which is steadier than the bare word.
CLASS_PROMPTS = ("a {}", "a {} on a table", "a photo of a {}", "the {}")


class SemanticHead(nn.Module):
    def __init__(self, dim: int, image_dim: int, text_dim: int) -> None:
        super().__init__()
        self.pool = SuperpointPooling(dim, image_dim)
        self.embed = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim),
                                   nn.Linear(dim, text_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, stats: SuperpointStats, use_image: bool = True) -> torch.Tensor:
        """(S, text_dim) unit-length superpoint embeddings."""
        return F.normalize(self.embed(self.pool.tokens(stats, use_image)), dim=-1)

    def logits(self, embeddings: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
        """(S, C) scaled cosine similarity to each class name's unit embedding."""
        scale = self.logit_scale.exp().clamp(max=100.0)
        return scale * embeddings @ class_embeddings.T


def class_prompts(names: list[str]) -> list[str]:
    return [template.format(name) for name in names for template in CLASS_PROMPTS]


def class_embeddings_from_prompts(pooled: torch.Tensor, num_names: int) -> torch.Tensor:
    """(C, text_dim): the unit mean of each name's prompt embeddings (``class_prompts``
    order: all templates of the first name, then the next)."""
    per_prompt = F.normalize(pooled.float(), dim=-1).reshape(num_names, len(CLASS_PROMPTS), -1)
    return F.normalize(per_prompt.mean(1), dim=-1)


def embed_class_names(encode_text, names: list[str]) -> torch.Tensor:
    """(C, text_dim) unit prompt-ensemble embeddings of ``names``; ``encode_text`` maps a
    list of strings to ``TextFeatures`` (a ``TextEncoder`` or ``MRCosmo.encode_text``)."""
    return class_embeddings_from_prompts(encode_text(class_prompts(names)).pooled, len(names))


def parse_class_list(text: str | list[str]) -> list[str]:
    """"mug, bowl, box" -> ["mug", "bowl", "box"]; refuses empty and repeated names."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [" ".join(str(n).split()).lower() for n in items]
    names = [n for n in names if n]
    if not names:
        raise ValueError("the class list is empty; give names separated by commas, "
                         "e.g. 'mug, bowl, box, table'")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"class names given more than once: {repeated}")
    bad = [n for n in names if any(ord(c) < 32 for c in n) or len(n) > 64]
    if bad:
        raise ValueError(f"class names must be printable and at most 64 characters: {bad[:3]}")
    return names
