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
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_lab
from torch import nn

from query3d.model.encoders.phrases import RELATIONS

SCALARS = 5  # referred logit, relevance logit, log mask mass, sentence-slot cosine, match
# where the slot's mask lies: its centre and spread (centred frame, z up), then its centre's
# x, y in the cloud's own frame and its distance there from the origin (the sensor's foot
# in a levelled frame, the robot in its base frame: "nearest", "in front")
GEOMETRY = 9
COLOUR = 6  # the mask's mean colour in CIE Lab / 100: as seen, and grey-world balanced
TEXT_TEMPERATURE = 0.05  # sharpness of the sentence's similarity to each class name
NUM_COLOURS = 12  # colour words the scorer compares a mask's colour with
NAMER_WIDTH = 32  # hidden units of the colour namer (model.slot_scorer_colour_namer)
# model.slot_scorer_colour_histogram: a mask's colours binned, not only averaged: 8 hues
# (balanced Lab at chroma 0.25, lightness 0.6) and 3 greys (lightness 0.25 / 0.55 / 0.85)
HUE_BINS, GREY_BINS = 8, 3
HISTOGRAM = HUE_BINS + GREY_BINS
HISTOGRAM_TEMPERATURE = 0.01  # squared Lab / 100 distance of a soft bin assignment


OFFSETS = 7  # a slot's place from the anchor: centre xyz, own x, y, range, distance
PEER_FEATURES = 8  # a slot against its peers: centre xyz, spread xyz, range; its own share


def evidence_size(dim: int, num_names: int, num_colours: int = NUM_COLOURS,
                  relations: bool = False, histogram: bool = False) -> int:
    base = 4 * dim + SCALARS + GEOMETRY + 2 * num_names + COLOUR + num_colours
    return base + (phrase_size(num_names, num_colours) if relations else 0) \
        + (HISTOGRAM if histogram else 0)


def colour_histogram(rgb: torch.Tensor, frame_rgb: torch.Tensor) -> torch.Tensor:
    """(N, HISTOGRAM) each point's soft bin of its grey-world balanced colour. A printed
    box is not its mean colour (a red carton with white lettering averages to pink):
    pooled over a mask, the bins say how much of it is red and how much white."""
    bins = torch.arange(HUE_BINS, dtype=rgb.dtype, device=rgb.device) * (2 * math.pi / HUE_BINS)
    hues = torch.stack([torch.full_like(bins, 0.6), 0.25 * torch.cos(bins),
                        0.25 * torch.sin(bins)], dim=-1)
    greys = torch.tensor([[0.25, 0.0, 0.0], [0.55, 0.0, 0.0], [0.85, 0.0, 0.0]],
                         dtype=rgb.dtype, device=rgb.device)
    anchors = torch.cat([hues, greys])  # (HISTOGRAM, 3) Lab / 100
    balanced = lab(rgb / (2.0 * frame_rgb.clamp_min(1e-3)))
    gap = ((balanced[:, None, :] - anchors[None]) ** 2).sum(-1)
    return torch.softmax(-gap / HISTOGRAM_TEMPERATURE, dim=-1)


def phrase_size(num_names: int, num_colours: int) -> int:
    return 2 * num_names + 2 * num_colours + len(RELATIONS)


def phrase_evidence(phrases: torch.Tensor, relation: torch.Tensor, names: torch.Tensor,
                    colour_names: torch.Tensor) -> torch.Tensor:
    """(1, phrase_size): the target phrase's and the anchor phrase's similarity to the
    class names and the colour words, and the relation (one-hot, ``RELATIONS``).
    ``phrases`` (2, text_dim) are the pooled embeddings of the target and anchor phrases
    (``encoders.phrases.split_relation``); without a relation the anchor's rows are 0."""
    unit = F.normalize(phrases, dim=-1)
    has_anchor = 1.0 - relation[:, :1]  # (1, 1)
    words = []
    for row, weight in ((0, 1.0), (1, has_anchor)):
        said = unit[row:row + 1]
        words += [torch.softmax(said @ names.T / TEXT_TEMPERATURE, dim=-1) * weight,
                  torch.softmax(said @ colour_names.T / TEXT_TEMPERATURE, dim=-1) * weight]
    return torch.cat([*words, relation], dim=-1)


def lab(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3) RGB in [0, 1] -> CIE Lab / 100 (kornia: sRGB, D65)."""
    flat = rgb.reshape(-1, 3).clamp(0.0, 1.0)
    return rgb_to_lab(flat.T[None, :, :, None])[0, :, :, 0].T.reshape(rgb.shape) / 100.0


def slot_evidence(queries: torch.Tensor, box_feat: torch.Tensor, text_vec: torch.Tensor,
                  ref_logit: torch.Tensor, relevance: torch.Tensor,
                  unit_mask_logits: torch.Tensor, unit_semantic: torch.Tensor,
                  text_pooled: torch.Tensor, names: torch.Tensor,
                  semantic_scale: torch.Tensor, unit_xyz: torch.Tensor,
                  unit_rgb: torch.Tensor, frame_rgb: torch.Tensor, origin: torch.Tensor,
                  colour_names: torch.Tensor, phrases: torch.Tensor | None = None,
                  unit_histogram: torch.Tensor | None = None) -> torch.Tensor:
    """(K, evidence_size) per slot. ``unit_mask_logits`` (K, S) over the superpoints,
    ``unit_semantic`` (S, text_dim) their unit semantic embeddings, ``text_pooled``
    (1, text_dim) the raw sentence embedding, ``names`` (V, text_dim) unit name
    embeddings of the checkpoint's classes, ``unit_xyz`` (S, 3) the superpoints' centres
    (words like "left", "nearest", "tallest" are about where a mask lies), ``unit_rgb``
    (S, 3) their mean colours, ``frame_rgb`` (3,) the frame's, ``origin`` (3,) where the
    centred frame's zero lies in the cloud's, ``colour_names`` (C, text_dim) unit
    embeddings of the colour words; ``phrases`` (1, phrase_size) ``phrase_evidence`` of
    the command, appended to every slot's row when the scorer reads relations;
    ``unit_histogram`` (S, HISTOGRAM) the units' ``colour_histogram`` (mean over their
    points), pooled under each mask and appended last.

    Colour is given as measured: a Kinect's "red box" is a pale magenta, so naming a
    colour is left to the scorer (trained on real scans too), with the frame's mean taken
    out (grey world) against the sensor's cast."""
    weight = torch.sigmoid(unit_mask_logits)
    share = weight / weight.sum(-1, keepdim=True).clamp_min(1e-6)
    centre = share @ unit_xyz  # (K, 3)
    spread = torch.sqrt(torch.relu(share @ (unit_xyz * unit_xyz) - centre * centre) + 1e-6)
    own = centre[:, :2] + origin[:2]
    place = torch.cat([centre, spread, own, own.norm(dim=-1, keepdim=True)], dim=-1)
    colour = share @ unit_rgb  # (K, 3)
    balanced = colour / (2.0 * frame_rgb.clamp_min(1e-3))
    colour = torch.cat([lab(colour), lab(balanced)], dim=-1)
    mass = weight.mean(-1, keepdim=True)
    slot_semantic = F.normalize(weight @ unit_semantic, dim=-1)
    sentence = F.normalize(text_pooled, dim=-1)
    cosine = slot_semantic @ sentence.T  # (K, 1)
    slot_names = torch.softmax(semantic_scale * slot_semantic @ names.T, dim=-1)  # (K, V)
    text_names = torch.softmax(sentence @ names.T / TEXT_TEMPERATURE, dim=-1)  # (1, V)
    match = (slot_names * text_names).sum(-1, keepdim=True)
    text_colours = torch.softmax(sentence @ colour_names.T / TEXT_TEMPERATURE, dim=-1)
    rel = relevance.clamp(1e-4, 1 - 1e-4)
    d = queries.shape[-1]
    k = queries.shape[0]
    rows = [
        queries, box_feat, queries * text_vec / math.sqrt(d), ref_logit[:, None],
        torch.log(rel / (1 - rel))[:, None], torch.log(mass.clamp_min(1e-6)), cosine, match,
        place, text_vec.expand(k, -1), slot_names, text_names.expand(k, -1), colour,
        text_colours.expand(k, -1)]
    if phrases is not None:
        rows.append(phrases.expand(k, -1))
    if unit_histogram is not None:
        rows.append(share @ unit_histogram)
    return torch.cat(rows, dim=-1)


class SlotScorer(nn.Module):
    """MLP over a slot's evidence and its scalars relative to the query's best slot, and
    its place and colour relative to the other slots' (a slot is judged against the other
    slots of the same query, not only on its own: "the left one" is left of the others,
    "the red box" the reddest of the boxes).

    A colour word is matched to a mask through learnt prototypes (one balanced Lab colour
    per colour word, started where the training answers named by that word lie, else at
    the synthetic palette's, and moved by training): the slot's soft colour naming against
    the sentence's colour words.

    With ``colour_namer`` a small classifier names the colour instead, from both Labs of
    the mask (as seen and balanced): one point per word cannot hold what a word looks like
    under a renderer's palette and under a Kinect's cast at once (after training, the
    prototypes of white, grey and cyan had met, and cyan or grey named no answer at all).

    ``members`` MLPs, started from different seeds and trained on the same batches, have
    their logits averaged: on a real split of a few dozen queries one seed's answer moves
    by several points, the average much less.

    With ``relations`` the evidence also carries the command's target and anchor phrases
    and its relation (``phrase_evidence``): each slot is matched against the target's
    words alone, the anchor is found as a soft pick over the slots by the anchor's words,
    and each slot is told where it lies from that anchor, once per relation ("behind the
    red box" reads the offset along depth, "left of" along y)."""

    def __init__(self, dim: int, text_dim: int, num_names: int,
                 num_colours: int = NUM_COLOURS, members: int = 1,
                 relations: bool = False, peers: bool = False,
                 colour_namer: bool = False, colour_histogram: bool = False) -> None:
        super().__init__()
        if peers and not relations:
            raise ValueError("model.slot_scorer_peers reads the target's words: it needs "
                             "model.slot_scorer_relations: true")
        self.dim, self.num_names, self.num_colours = dim, num_names, num_colours
        if colour_histogram and not colour_namer:
            raise ValueError("model.slot_scorer_colour_histogram is read by the colour namer: "
                             "it needs model.slot_scorer_colour_namer: true")
        self.relations, self.peers = relations, peers
        self.histogram = colour_histogram
        size = evidence_size(dim, num_names, num_colours, relations, colour_histogram) \
            + SCALARS \
            + 2 * GEOMETRY + 2 + 3 + num_colours
        if relations:
            size += 4 + 2 + OFFSETS * len(RELATIONS)
            # how sharply the anchor's words pick its slot (softmax over the slots)
            self.anchor_log_sharpness = nn.Parameter(torch.tensor(math.log(10.0)))
        if peers:
            size += PEER_FEATURES
            # how sharply the target's words pick the slots it is compared with
            self.peer_log_sharpness = nn.Parameter(torch.tensor(math.log(10.0)))
        self.register_buffer("names", torch.zeros(num_names, text_dim))  # set when trained
        self.register_buffer("colour_names", torch.zeros(num_colours, text_dim))
        if colour_namer:
            namer_in = COLOUR + (HISTOGRAM if colour_histogram else 0)
            self.colour_namer = nn.Sequential(nn.Linear(namer_in, NAMER_WIDTH), nn.GELU(),
                                              nn.Linear(NAMER_WIDTH, num_colours))
        else:
            self.colour_prototypes = nn.Parameter(torch.zeros(num_colours, 3))  # Lab / 100
            self.colour_log_width = nn.Parameter(torch.tensor(math.log(0.01)))
        if members < 1:
            raise ValueError(f"model.slot_scorer_members must be >= 1, got {members}")
        self.mlp = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(size), nn.Linear(size, dim), nn.GELU(),
                          nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 1))
            for _ in range(members))

    def forward(self, evidence: torch.Tensor) -> torch.Tensor:
        """(..., K, evidence_size) of a query's K slots -> (..., K) logits."""
        return self.member_logits(evidence).mean(0)

    def member_logits(self, evidence: torch.Tensor) -> torch.Tensor:
        """(members, ..., K): each member's own logits (each is trained on its own)."""
        features = self.features(evidence)
        return torch.stack([mlp(features) for mlp in self.mlp]).squeeze(-1)

    def features(self, evidence: torch.Tensor) -> torch.Tensor:
        """(..., K, F): what the MLPs read, the evidence and each slot against the others
        (with ``relations`` the last ``6 + OFFSETS * len(RELATIONS)`` columns are
        ``_relation_features``, then with ``peers`` ``PEER_FEATURES`` more)."""
        start = 3 * self.dim
        scalars = evidence[..., start:start + SCALARS]
        place = evidence[..., start + SCALARS:start + SCALARS + GEOMETRY]
        tail = self._colour_start()
        balanced, said = self.colour_evidence(evidence)
        named = self.named_colours(evidence)
        match = (named * said).sum(-1, keepdim=True)
        relative = [scalars - scalars.max(dim=-2, keepdim=True).values,
                    place - place.min(dim=-2, keepdim=True).values,
                    place.max(dim=-2, keepdim=True).values - place,
                    match, match - match.max(dim=-2, keepdim=True).values,
                    balanced - balanced.mean(dim=-2, keepdim=True), named]
        if self.relations:
            slot_names = evidence[..., tail - 2 * self.num_names:tail - self.num_names]
            relative += self._relation_features(evidence, slot_names, named, place)
        return torch.cat([evidence, *relative], dim=-1)

    def named_colours(self, evidence: torch.Tensor) -> torch.Tensor:
        """(..., K, C): how much each colour word names each slot's mask."""
        tail = self._colour_start()
        if hasattr(self, "colour_namer"):
            return torch.softmax(self.colour_namer(self.namer_input(evidence)), dim=-1)
        balanced = evidence[..., tail + 3:tail + COLOUR]
        gap = ((balanced[..., None, :] - self.colour_prototypes) ** 2).sum(-1)
        return torch.softmax(-gap / self.colour_log_width.exp(), dim=-1)

    def namer_input(self, evidence: Any) -> Any:
        """What the colour namer reads: both Labs of the mask, and with
        ``colour_histogram`` its colour bins (the evidence's last columns)."""
        tail = self._colour_start()
        colour = evidence[..., tail:tail + COLOUR]
        if not self.histogram:
            return colour
        bins = evidence[..., -HISTOGRAM:]
        if isinstance(evidence, torch.Tensor):
            return torch.cat([colour, bins], dim=-1)
        return np.concatenate([colour, bins], axis=-1)

    def _colour_start(self) -> int:
        """Where ``slot_evidence``'s colour columns begin (after the class-name columns)."""
        return 4 * self.dim + SCALARS + GEOMETRY + 2 * self.num_names

    def colour_evidence(self, evidence: Any) -> tuple[Any, Any]:
        """(..., K, 3) each slot's grey-world balanced Lab colour and (..., K, C) how much
        the sentence says each colour word, read from the evidence layout (a tensor or a
        stored array: views, no copy)."""
        tail = self._colour_start()
        return (evidence[..., tail + 3:tail + COLOUR],
                evidence[..., tail + COLOUR:tail + COLOUR + self.num_colours])

    def _relation_features(self, evidence: torch.Tensor, slot_names: torch.Tensor,
                           named: torch.Tensor, place: torch.Tensor) -> list[torch.Tensor]:
        """Each slot against the target phrase's words, how much it is the anchor, and its
        offset from the soft anchor, gated by the relation."""
        v, c = self.num_names, self.num_colours
        start = evidence_size(self.dim, v, c)
        phrases = evidence[..., start:start + phrase_size(v, c)]
        target_names, target_colours = phrases[..., :v], phrases[..., v:v + c]
        anchor_names, anchor_colours = phrases[..., v + c:2 * v + c], \
            phrases[..., 2 * v + c:2 * v + 2 * c]
        relation = phrases[..., 2 * v + 2 * c:]
        target = torch.stack([(slot_names * target_names).sum(-1),
                              (named * target_colours).sum(-1)], dim=-1)  # (..., K, 2)
        anchor = (slot_names * anchor_names).sum(-1) + (named * anchor_colours).sum(-1)
        pick = torch.softmax(anchor * self.anchor_log_sharpness.exp(), dim=-1)  # (..., K)
        at = place[..., [0, 1, 2, 6, 7, 8]]  # centre xyz, own x, y, range
        offset = at - (pick[..., None] * at).sum(-2, keepdim=True)
        offset = torch.cat([offset, offset[..., :3].norm(dim=-1, keepdim=True)], dim=-1)
        gated = (offset[..., :, None] * relation[..., None, :]).flatten(-2)
        out = [target, target - target.max(dim=-2, keepdim=True).values,
               torch.stack([anchor, pick * pick.shape[-1]], dim=-1), gated]
        if self.peers:
            out.append(self._peer_features(target[..., 0], place))
        return out

    def _peer_features(self, target_match: torch.Tensor, place: torch.Tensor
                       ) -> torch.Tensor:
        """Each slot's place and size against the slots that match the target's class words
        (a soft pick, learnt sharpness): "the box on the left", "the smallest tin" and
        "the box further back" compare the target with its peers, and a leftmost mug
        must not make every box look "right"."""
        peer = torch.softmax(target_match * self.peer_log_sharpness.exp(), dim=-1)  # (..., K)
        own = place[..., [0, 1, 2, 3, 4, 5, 8]]  # centre, spread, range
        centre = (peer[..., None] * own).sum(-2, keepdim=True)
        return torch.cat([own - centre, peer[..., None] * peer.shape[-1]], dim=-1)
