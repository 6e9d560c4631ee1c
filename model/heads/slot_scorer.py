"""Slot scorer: which detection slots answer the sentence, from evidence the slots
already carry plus what the semantic head says each slot's mask is.

The detection head's referred score trains slowly inside the whole objective (its term is
one of many), while the network's best slot covers the target far more often than it is
picked. The scorer is a small MLP over each slot's evidence: its query and pooled box
feature against the sentence, the referred and relevance scores, its mask's mass, and the
open-vocabulary semantic head's reading of the mask (a distribution over the class names)
against the sentence's similarity to those names. It trains on stored evidence of a
frozen network (``query3d train --task slot-scorer``), so it can see tens of thousands of
queries in minutes, and its logit is a graph output (``slot_logit``) like any other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SCALARS = 5  # referred logit, relevance logit, log mask mass, sentence-slot cosine, match
GEOMETRY = 6  # where the slot's mask lies: its centre and spread (centred frame, z up)
TEXT_TEMPERATURE = 0.05  # sharpness of the sentence's similarity to each class name


def evidence_size(dim: int, num_names: int) -> int:
    return 4 * dim + SCALARS + GEOMETRY + 2 * num_names


def slot_evidence(queries: torch.Tensor, box_feat: torch.Tensor, text_vec: torch.Tensor,
                  ref_logit: torch.Tensor, relevance: torch.Tensor,
                  unit_mask_logits: torch.Tensor, unit_semantic: torch.Tensor,
                  text_pooled: torch.Tensor, names: torch.Tensor,
                  semantic_scale: torch.Tensor, unit_xyz: torch.Tensor) -> torch.Tensor:
    """(K, evidence_size) per slot. ``unit_mask_logits`` (K, S) over the superpoints,
    ``unit_semantic`` (S, text_dim) their unit semantic embeddings, ``text_pooled``
    (1, text_dim) the raw sentence embedding, ``names`` (V, text_dim) unit name
    embeddings of the checkpoint's classes, ``unit_xyz`` (S, 3) the superpoints' centres
    (words like "left", "nearest", "tallest" are about where a mask lies)."""
    weight = torch.sigmoid(unit_mask_logits)
    share = weight / weight.sum(-1, keepdim=True).clamp_min(1e-6)
    centre = share @ unit_xyz  # (K, 3)
    spread = torch.sqrt(torch.relu(share @ (unit_xyz * unit_xyz) - centre * centre) + 1e-6)
    mass = weight.mean(-1, keepdim=True)
    slot_semantic = F.normalize(weight @ unit_semantic, dim=-1)
    sentence = F.normalize(text_pooled, dim=-1)
    cosine = slot_semantic @ sentence.T  # (K, 1)
    slot_names = torch.softmax(semantic_scale * slot_semantic @ names.T, dim=-1)  # (K, V)
    text_names = torch.softmax(sentence @ names.T / TEXT_TEMPERATURE, dim=-1)  # (1, V)
    match = (slot_names * text_names).sum(-1, keepdim=True)
    rel = relevance.clamp(1e-4, 1 - 1e-4)
    d = queries.shape[-1]
    k = queries.shape[0]
    return torch.cat([
        queries, box_feat, queries * text_vec / math.sqrt(d), ref_logit[:, None],
        torch.log(rel / (1 - rel))[:, None], torch.log(mass.clamp_min(1e-6)), cosine, match,
        centre, spread, text_vec.expand(k, -1), slot_names, text_names.expand(k, -1)],
        dim=-1)


class SlotScorer(nn.Module):
    """MLP over a slot's evidence and its scalars relative to the query's best slot, and
    its place relative to the other slots' (a slot is judged against the other slots of
    the same query, not only on its own: "the left one" is left of the others)."""

    def __init__(self, dim: int, text_dim: int, num_names: int) -> None:
        super().__init__()
        self.dim = dim
        size = evidence_size(dim, num_names) + SCALARS + 2 * GEOMETRY
        self.register_buffer("names", torch.zeros(num_names, text_dim))  # set when trained
        self.mlp = nn.Sequential(nn.LayerNorm(size), nn.Linear(size, dim), nn.GELU(),
                                 nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 1))

    def forward(self, evidence: torch.Tensor) -> torch.Tensor:
        """(..., K, evidence_size) of a query's K slots -> (..., K) logits."""
        start = 3 * self.dim
        scalars = evidence[..., start:start + SCALARS]
        place = evidence[..., start + SCALARS:start + SCALARS + GEOMETRY]
        relative = [scalars - scalars.max(dim=-2, keepdim=True).values,
                    place - place.min(dim=-2, keepdim=True).values,
                    place.max(dim=-2, keepdim=True).values - place]
        return self.mlp(torch.cat([evidence, *relative], dim=-1)).squeeze(-1)
