"""Peer features: "the box on the left" places each slot against the other boxes, not
against every slot (a mug further left must not make the left box look "right")."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from query3d.config import ModelConfig
from query3d.model.encoders.phrases import RELATIONS
from query3d.model.heads.slot_scorer import (
    PEER_FEATURES,
    SlotScorer,
    evidence_size,
    phrase_evidence,
    slot_evidence,
)
from query3d.model.mrcosmo import MRCosmo

D, TEXT_DIM, V, C = 4, 6, 3, 2


def _evidence() -> torch.Tensor:
    """Three slots: a box at y = +1, a box at y = -1, a mug at y = +3 ("the box ...")."""
    names = F.normalize(torch.eye(V, TEXT_DIM), dim=-1)  # "mug", "bowl", "box"
    unit_semantic = names[[2, 2, 0]]
    masks = torch.full((3, 3), -9.0).fill_diagonal_(9.0)
    xyz = torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.0, 3.0, 0.0]])
    colour_names = F.normalize(torch.eye(TEXT_DIM)[[3, 4]], dim=-1)
    relation = torch.zeros(1, len(RELATIONS))
    relation[0, 0] = 1.0  # "the box on the left": no second object
    phrases = phrase_evidence(torch.stack([names[2], names[0]]) * 3.0, relation, names,
                              colour_names)
    zeros = torch.zeros(3, D)
    return slot_evidence(zeros, zeros, torch.zeros(1, D), torch.zeros(3),
                         torch.full((3,), 0.5), masks, unit_semantic, names[2:], names,
                         torch.tensor(20.0), xyz, torch.full((3, 3), 0.5),
                         torch.full((3,), 0.5), torch.zeros(3), colour_names, phrases)


def test_each_slot_is_placed_against_the_slots_of_the_targets_class() -> None:
    ev = _evidence()
    scorer = SlotScorer(D, TEXT_DIM, V, C, relations=True, peers=True)
    with torch.no_grad():
        peers = scorer.features(ev)[:, -PEER_FEATURES:]
        logits = scorer(ev)
    share = peers[:, -1] / 3
    assert share[:2].tolist() == pytest.approx([0.5, 0.5], abs=0.05)  # the two boxes
    assert float(share[2]) < 0.05  # the mug is no peer of "the box"
    y_from_peers = peers[:, 1]
    assert y_from_peers.tolist() == pytest.approx([1.0, -1.0, 3.0], abs=0.1)
    assert logits.shape == (3,) and torch.isfinite(logits).all()


def test_peer_features_widen_the_scorer_and_need_relations() -> None:
    plain = SlotScorer(D, TEXT_DIM, V, C, relations=True)
    with_peers = SlotScorer(D, TEXT_DIM, V, C, relations=True, peers=True)
    ev = torch.zeros(2, 3, evidence_size(D, V, C, relations=True))
    assert with_peers.features(ev).shape[-1] == plain.features(ev).shape[-1] + PEER_FEATURES
    with pytest.raises(ValueError, match="slot_scorer_relations"):
        SlotScorer(D, TEXT_DIM, V, C, peers=True)
    with pytest.raises(ValueError, match="slot_scorer_relations"):
        MRCosmo(ModelConfig(use_superpoints=True, semantic_head=True, slot_scorer=True,
                            slot_scorer_peers=True), text_encoder=None)
