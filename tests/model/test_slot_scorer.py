"""The slot scorer: its evidence, its targets, that it learns, and that decoding uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from query3d.config import DecisionConfig, ModelConfig
from query3d.model.encoders.phrases import RELATIONS
from query3d.model.heads.slot_scorer import (
    HISTOGRAM,
    OFFSETS,
    SlotScorer,
    colour_histogram,
    evidence_size,
    phrase_evidence,
    phrase_size,
    slot_evidence,
)
from query3d.model.mrcosmo import MRCosmo
from query3d.model.postprocess import decode
from query3d.training.slot_scoring.cache import EvidenceCache, slot_target_iou
from query3d.training.slot_scoring.fit import ScorerTraining, choice_loss, fit_slot_scorer


def test_evidence_says_which_slot_covers_what_the_sentence_names() -> None:
    d, text_dim = 4, 6
    names = F.normalize(torch.eye(3, text_dim), dim=-1)  # "mug", "bowl", "box"
    unit_semantic = names[[0, 0, 1, 2]]  # four superpoints: two mug, a bowl, a box
    masks = torch.tensor([[9.0, 9.0, -9.0, -9.0],   # slot 0 covers the mug
                          [-9.0, -9.0, 9.0, -9.0]])  # slot 1 the bowl
    sentence = names[:1] * 2.0  # "the mug" (unnormalised, as pooled)
    zeros = torch.zeros(2, d)
    red, grey = [0.8, 0.1, 0.1], [0.5, 0.5, 0.5]
    colour_names = F.normalize(torch.eye(text_dim)[[2, 3]] + torch.eye(text_dim)[[5, 0]],
                               dim=-1)  # "red", "grey": the sentence is nearer "grey"
    ev = slot_evidence(zeros, zeros, torch.zeros(1, d), torch.tensor([0.3, -0.2]),
                       torch.tensor([0.5, 0.9]), masks, unit_semantic, sentence, names,
                       torch.tensor(20.0), torch.tensor([[0.0, 1.0, 0], [0, 1.0, 0],
                                                         [0, -1.0, 0], [1.0, 0, 0]]),
                       torch.tensor([red, red, grey, grey]), torch.tensor([0.4, 0.4, 0.4]),
                       torch.tensor([2.0, 0.0, 0.5]), colour_names)
    assert ev.shape == (2, evidence_size(d, 3, 2))
    scalars = ev[:, 3 * d:3 * d + 5]
    ref, relevance, mass, cosine, match = scalars.T
    assert ref.tolist() == pytest.approx([0.3, -0.2])
    assert relevance[1] > relevance[0] and mass[0] > mass[1]
    assert cosine[0] == pytest.approx(1.0, abs=1e-3) and cosine[1] == pytest.approx(0.0, abs=1e-3)
    assert match[0] > 0.9 and match[1] < 0.1
    centre = ev[:, 3 * d + 5:3 * d + 8]  # the mug slot lies at +y (left), the bowl at -y
    assert centre[0].tolist() == pytest.approx([0, 1, 0], abs=1e-3)
    assert centre[1].tolist() == pytest.approx([0, -1, 0], abs=1e-3)
    own = ev[:, 3 * d + 11:3 * d + 14]  # in the cloud's frame: origin added, range from it
    assert own[0].tolist() == pytest.approx([2.0, 1.0, 5 ** 0.5], abs=1e-3)
    tail = 3 * d + 14 + d + 6
    seen, balanced = ev[:, tail:tail + 3], ev[:, tail + 3:tail + 6]
    assert seen[0, 1] > 0.4 and abs(float(seen[1, 1])) < 0.02  # Lab a*: red vs grey
    assert balanced[1, 0] > seen[1, 0]  # grey over a darker frame reads lighter
    assert ev[:, tail + 6:tail + 8].flatten().tolist() == pytest.approx([0, 1, 0, 1], abs=1e-3)


def test_colour_bins_tell_a_printed_box_from_its_mean_colour() -> None:
    grey = torch.tensor([0.5, 0.5, 0.5])
    rgb = torch.tensor([[0.8, 0.1, 0.1], [0.9, 0.9, 0.9], [0.1, 0.1, 0.1],
                        [0.9, 0.8, 0.1], [0.1, 0.6, 0.1]])  # red, white, black, yellow, green
    bins = colour_histogram(rgb, grey)
    assert bins.shape == (5, HISTOGRAM)
    assert torch.allclose(bins.sum(-1), torch.ones(5))
    assert len(set(bins.argmax(-1).tolist())) == 5  # five colours, five bins
    # a box half red print, half white lettering, against an all-pink box of the same mean
    d, text_dim = 4, 6
    names = F.normalize(torch.eye(2, text_dim), dim=-1)
    units = torch.tensor([[0.8, 0.1, 0.1], [0.9, 0.9, 0.9], [0.85, 0.5, 0.5], [0.85, 0.5, 0.5]])
    masks = torch.tensor([[9.0, 9.0, -9.0, -9.0], [-9.0, -9.0, 9.0, 9.0]])
    zeros = torch.zeros(2, d)
    ev = slot_evidence(zeros, zeros, torch.zeros(1, d), torch.zeros(2), torch.full((2,), 0.5),
                       masks, names[[0, 0, 1, 1]], names[:1], names, torch.tensor(20.0),
                       torch.zeros(4, 3), units, grey, torch.zeros(3),
                       F.normalize(torch.eye(2, text_dim), dim=-1),
                       unit_histogram=colour_histogram(units, grey))
    assert ev.shape == (2, evidence_size(d, 2, 2, histogram=True))
    tail = 3 * d + 14 + d + 4
    assert torch.allclose(ev[0, tail:tail + 6], ev[1, tail:tail + 6], atol=1e-3)  # same mean
    printed, pink = ev[0, -HISTOGRAM:], ev[1, -HISTOGRAM:]
    assert sorted(printed.topk(2).values.tolist()) == pytest.approx([0.5, 0.5], abs=0.02)
    greys = slice(HISTOGRAM - 3, HISTOGRAM)  # the lettering is white, no pink point is
    assert float(printed[greys].sum()) == pytest.approx(0.5, abs=0.02)
    assert float(pink[greys].sum()) < 0.01


def test_the_colour_namer_reads_the_bins() -> None:
    with pytest.raises(ValueError, match="needs model.slot_scorer_colour_namer"):
        SlotScorer(4, 6, 3, colour_histogram=True)
    torch.manual_seed(0)
    scorer = SlotScorer(4, 6, 3, colour_namer=True, colour_histogram=True)
    ev = torch.randn(2, 5, evidence_size(4, 3, histogram=True))
    named = scorer.named_colours(ev)
    other = ev.clone()
    other[..., -HISTOGRAM:] = torch.flip(other[..., -HISTOGRAM:], dims=[-1])
    assert not torch.allclose(scorer.named_colours(other), named)
    assert scorer(ev).shape == (2, 5)
    stored = ev.numpy().astype(np.float16)  # the training caches read it as arrays
    assert scorer.namer_input(stored).shape == (2, 5, 6 + HISTOGRAM)


def test_lab_matches_the_cie_reference_values() -> None:
    from query3d.model.heads.slot_scorer import lab

    rgb = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # sRGB D65 reference: white L 100, red (53.24, 80.09, 67.20), black 0
    assert (100 * lab(rgb)).flatten().tolist() == pytest.approx(
        [100.0, 0.0, 0.0, 53.24, 80.09, 67.20, 0.0, 0.0, 0.0], abs=0.1)


def test_slot_target_iou_is_the_best_over_targets() -> None:
    instance = np.array([1, 1, 2, 2, 2, -1])
    mask = np.array([[1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1]], bool)
    assert slot_target_iou(mask, instance, [1, 2]).tolist() == pytest.approx([1.0, 0.75, 0.0])
    assert slot_target_iou(mask, instance, []).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("listwise", [0.0, 1.0])
def test_the_scorer_learns_which_slots_answer(listwise: float) -> None:
    rng = np.random.default_rng(0)
    d, v, k, q = 8, 3, 6, 120
    size = evidence_size(d, v)
    evidence = rng.normal(size=(q * k, size)).astype(np.float32)
    iou = rng.uniform(0, 0.4, size=q * k)
    answers = rng.uniform(size=q * k) < 0.2
    iou[answers] = rng.uniform(0.6, 1.0, size=answers.sum())
    evidence[:, 3 * d + 4] = np.where(answers, 1.0, -1.0) + rng.normal(size=q * k) * 0.3
    cache = EvidenceCache(evidence.astype(np.float16), iou.astype(np.float16),
                          np.zeros(q, bool), np.arange(0, q * k + 1, k))
    torch.manual_seed(0)
    scorer = SlotScorer(d, 5, v)
    settings = ScorerTraining(steps=300, batch_queries=16, lr=3e-3, listwise=listwise)
    fit_slot_scorer(scorer, [cache], settings)
    assert settings.history[-1]["loss"] < 0.5 * settings.history[0]["loss"]
    with torch.no_grad():
        p = torch.sigmoid(scorer(torch.from_numpy(evidence).reshape(q, k, -1))).numpy().reshape(-1)
    assert p[answers].mean() > 0.7 and p[~answers].mean() < 0.3


def test_soft_targets_rank_a_tighter_mask_of_the_same_object_higher() -> None:
    """With 0 / 1 targets a mask over the target and its touching neighbour (IoU 0.6) is as
    much an answer as the target's own (IoU 0.95); soft targets (min(1, IoU / 0.8)^2)
    teach the scorer to prefer the tight one."""
    rng = np.random.default_rng(1)
    d, v, k, q = 8, 3, 6, 150
    evidence = rng.normal(size=(q * k, evidence_size(d, v))).astype(np.float32)
    iou = rng.uniform(0, 1, size=q * k)
    evidence[:, 3 * d + 4] = 4 * iou + rng.normal(size=q * k) * 0.1  # what the MLP can read
    cache = EvidenceCache(evidence.astype(np.float16), iou.astype(np.float16),
                          np.zeros(q, bool), np.arange(0, q * k + 1, k))
    gaps = {}
    for soft in (False, True):
        torch.manual_seed(0)
        scorer = SlotScorer(d, 5, v)
        fit_slot_scorer(scorer, [cache], ScorerTraining(
            steps=300, batch_queries=16, lr=3e-3, positive_iou=0.8 if soft else 0.5,
            soft_targets=soft))
        with torch.no_grad():
            p = torch.sigmoid(scorer(torch.from_numpy(evidence).reshape(q, k, -1)))
        p = p.numpy().reshape(-1)
        loose, tight = (iou > 0.55) & (iou < 0.65), iou > 0.9
        gaps[soft] = p[tight].mean() - p[loose].mean()
    assert gaps[True] > 0.2 and gaps[True] > 2 * gaps[False]


def test_weighting_zero_target_queries_lowers_what_absent_objects_score() -> None:
    """Slots of zero-target queries that look like answers (the same evidence as a found
    target, a scan unlike the training ones): weighting those queries more pulls their
    scores down, while real answers stay above them."""
    rng = np.random.default_rng(2)
    d, v, k, q = 8, 3, 6, 160
    evidence = rng.normal(size=(q * k, evidence_size(d, v))).astype(np.float32)
    zero = np.arange(q) % 4 == 0
    iou = np.zeros(q * k)
    first = np.arange(q * k) % k == 0  # each query's first slot looks like an answer
    iou[first & ~np.repeat(zero, k)] = 0.95
    evidence[:, 3 * d + 4] = np.where(first, 1.0, -1.0) + rng.normal(size=q * k) * 0.3
    cache = EvidenceCache(evidence.astype(np.float16), iou.astype(np.float16), zero,
                          np.arange(0, q * k + 1, k))
    scores = {}
    for weight in (1.0, 5.0):
        torch.manual_seed(0)
        scorer = SlotScorer(d, 5, v)
        fit_slot_scorer(scorer, [cache], ScorerTraining(
            steps=300, batch_queries=16, lr=3e-3, zero_target_weight=weight))
        with torch.no_grad():
            p = torch.sigmoid(scorer(torch.from_numpy(evidence).reshape(q, k, -1))).numpy()
        scores[weight] = (p[zero, 0].mean(), p[~zero, 0].mean())
    assert scores[5.0][0] < scores[1.0][0] - 0.1  # absent objects' look-alikes score lower
    assert scores[5.0][1] > scores[5.0][0]  # answers stay above them (the rest of the query
    # evidence, not the slot's, tells them apart only partly: a trade, not a free gain)


def test_the_choice_loss_is_the_cross_entropy_over_slots_and_none() -> None:
    logits = torch.tensor([[[2.0, -1.0, -3.0], [-2.0, -2.0, -2.0], [1.0, 1.0, -5.0]]])
    positive = np.array([[True, False, False], [False, False, False], [True, True, False]])
    choices = torch.cat([logits[0], torch.zeros(3, 1)], dim=1).softmax(dim=1)
    want = -(choices[0, 0].log() + choices[1, 3].log() + (choices[2, 0] + choices[2, 1]).log()) / 3
    assert choice_loss(logits, positive).item() == pytest.approx(want.item(), rel=1e-6)
    better = logits.clone()
    better[0, 1, :] = -6.0  # the zero-target query's slots further below "none"
    assert choice_loss(better, positive) < choice_loss(logits, positive)


def test_decoding_with_the_scorer_reads_slot_logit() -> None:
    n = 20
    xyz = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    raw = {"box_center": np.zeros((2, 3)), "box_size": np.ones((2, 3)), "box_yaw": np.zeros(2),
           "ref_logit": np.array([5.0, 5.0]), "class_logits": np.zeros((2, 3)),
           "mask_logits": np.stack([np.where(np.arange(n) < 10, 5.0, -5.0),
                                    np.where(np.arange(n) >= 10, 5.0, -5.0)]),
           "slot_relevance": np.ones(2), "slot_logit": np.array([4.0, -4.0])}
    frame = {"xyz": xyz, "origin": np.zeros(3)}
    cfg = DecisionConfig(slot_score="scorer", score_threshold=0.5, box_from_mask=False)
    result = decode(raw, frame, cfg, "the mug")
    assert len(result.targets) == 1 and result.targets[0].point_indices.tolist() == list(range(10))
    referred = decode(raw, frame, DecisionConfig(score_threshold=0.5, box_from_mask=False),
                      "the mugs")
    assert len(referred.targets) == 2  # by referred score both fire
    with pytest.raises(ValueError, match="slot_logit"):
        decode({k: v for k, v in raw.items() if k != "slot_logit"}, frame, cfg, "the mug")


def test_the_scorer_needs_the_semantic_head() -> None:
    with pytest.raises(ValueError, match="semantic_head"):
        MRCosmo(ModelConfig(use_superpoints=True, slot_scorer=True), text_encoder=None)


def test_relation_features_place_each_slot_from_the_anchor_the_words_name() -> None:
    """"the mug left of the box": the anchor is picked by the anchor's words (the box slot,
    not the mug), and each slot's offset from it fills the "left" columns only."""
    d, text_dim, v, c = 4, 6, 3, 2
    names = F.normalize(torch.eye(v, text_dim), dim=-1)  # "mug", "bowl", "box"
    unit_semantic = names[[0, 0, 1, 2]]
    masks = torch.tensor([[9.0, 9.0, -9, -9], [-9, -9, 9.0, -9], [-9, -9, -9, 9.0]])
    xyz = torch.tensor([[0.0, 1.0, 0], [0, 1.0, 0], [0, -1.0, 0], [1.0, 0.2, 0]])
    colour_names = F.normalize(torch.eye(text_dim)[[3, 4]], dim=-1)
    relation = torch.zeros(1, len(RELATIONS))
    relation[0, RELATIONS.index("left")] = 1.0
    phrases = phrase_evidence(torch.stack([names[0], names[2]]) * 3.0, relation, names,
                              colour_names)
    assert phrases.shape == (1, phrase_size(v, c))
    zeros = torch.zeros(3, d)
    ev = slot_evidence(zeros, zeros, torch.zeros(1, d), torch.zeros(3), torch.full((3,), 0.5),
                       masks, unit_semantic, names[:1] + names[2:], names, torch.tensor(20.0),
                       xyz, torch.full((4, 3), 0.5), torch.full((3,), 0.5), torch.zeros(3),
                       colour_names, phrases)
    assert ev.shape == (3, evidence_size(d, v, c, relations=True))
    scorer = SlotScorer(d, text_dim, v, c, relations=True)
    with torch.no_grad():
        features = scorer.features(ev)
    width = OFFSETS * len(RELATIONS)
    gated = features[:, -width:].reshape(3, OFFSETS, len(RELATIONS))
    picked = features[:, -width - 1] / 3  # each slot's share of the anchor
    target = features[:, -width - 6]  # each slot's class match with the target words
    assert int(picked.argmax()) == 2 and float(picked[2]) > 0.9
    assert int(target.argmax()) == 0 and float(target[0]) > 0.9
    left = gated[:, :, RELATIONS.index("left")]
    assert left[0, :3].tolist() == pytest.approx([-1.0, 0.8, 0.0], abs=0.05)  # mug - box
    assert left[2].abs().max() < 0.1  # the anchor from itself
    others = [i for i in range(len(RELATIONS)) if RELATIONS[i] != "left"]
    assert gated[:, :, others].abs().max() == 0.0
    # without a relation the anchor's words are silent: the same slots, no anchor
    none = torch.zeros(1, len(RELATIONS))
    none[0, 0] = 1.0
    silent = phrase_evidence(torch.stack([names[0], names[2]]), none, names, colour_names)
    assert silent[0, v + c:2 * v + 2 * c].abs().max() == 0.0


def test_a_relation_scorer_needs_the_phrases() -> None:
    cfg = ModelConfig(use_superpoints=True, semantic_head=True, slot_scorer=True,
                      slot_scorer_relations=True)
    from query3d.model.encoders import TextFeatures
    from query3d.model.validation import validate_text

    text = TextFeatures(torch.zeros(1, 3, cfg.text_dim), torch.ones(1, 3, dtype=torch.bool),
                        torch.zeros(1, cfg.text_dim))
    with pytest.raises(ValueError, match="phrases"):
        validate_text(text, cfg)
