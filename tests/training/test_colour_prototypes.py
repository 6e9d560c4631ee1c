"""The scorer's colour prototypes start where the training answers named by each colour
word lie, each source weighing the same, and not for words too few answers say; its colour
namer (``model.slot_scorer_colour_namer``) starts as a classifier of those answers."""

from __future__ import annotations

import numpy as np
import torch

from query3d.model.heads.slot_scorer import NUM_COLOURS, SlotScorer, evidence_size
from query3d.training.slot_scoring.cache import EvidenceCache
from query3d.training.slot_scoring.run import start_colour_namer, start_colour_prototypes

D, V, K = 8, 3, 4
YELLOW, RED = 3, 0


def _cache(scorer: SlotScorer, answers: int, colour: tuple[float, float, float], word: int,
           seed: int) -> EvidenceCache:
    """``answers`` queries saying ``word`` whose first slot found the target with
    ``colour`` (its other slots: other colours, missed)."""
    rng = np.random.default_rng(seed)
    evidence = torch.from_numpy(rng.normal(size=(answers * K, evidence_size(D, V))))
    balanced, said = scorer.colour_evidence(evidence)
    said.zero_()
    said[:, word] = 0.9
    balanced.copy_(torch.from_numpy(rng.uniform(-1, 1, size=balanced.shape)))
    balanced[::K] = torch.tensor(colour, dtype=torch.float64) \
        + torch.from_numpy(rng.normal(scale=0.01, size=(answers, 3)))
    iou = np.zeros(answers * K, np.float16)
    iou[::K] = 0.8
    return EvidenceCache(evidence.numpy().astype(np.float16), iou, np.zeros(answers, bool),
                         np.arange(0, answers * K + 1, K))


def test_prototypes_start_at_the_answers_colours_averaged_over_sources() -> None:
    scorer = SlotScorer(D, 6, V)
    palette = torch.rand(NUM_COLOURS, 3)
    scorer.colour_prototypes.data.copy_(palette)
    real = _cache(scorer, 30, (0.5, -0.05, 0.12), YELLOW, 0)
    synthetic = _cache(scorer, 300, (0.6, -0.01, 0.2), YELLOW, 1)  # ten times the answers
    few_red = _cache(scorer, 5, (0.4, 0.2, 0.0), RED, 2)  # under min_count

    moved = start_colour_prototypes(scorer, [real, synthetic, few_red], min_count=10)

    assert moved == ["yellow"]
    np.testing.assert_allclose(scorer.colour_prototypes[YELLOW].detach().numpy(),
                               [0.55, -0.03, 0.16], atol=0.01)  # the mean of the two means
    untouched = [c for c in range(NUM_COLOURS) if c != YELLOW]
    torch.testing.assert_close(scorer.colour_prototypes[untouched].detach(), palette[untouched])


def test_slots_that_missed_or_queries_without_the_word_do_not_count() -> None:
    scorer = SlotScorer(D, 6, V)
    cache = _cache(scorer, 30, (0.5, -0.05, 0.12), YELLOW, 0)
    cache.iou[:] = 0.2  # no slot found its target
    assert start_colour_prototypes(scorer, [cache], min_count=10) == []
    cache = _cache(scorer, 30, (0.5, -0.05, 0.12), YELLOW, 0)
    evidence = torch.from_numpy(cache.evidence.astype(np.float32))
    scorer.colour_evidence(evidence)[1][:, YELLOW] = 0.3  # the word is not said clearly
    cache.evidence = evidence.numpy().astype(np.float16)
    assert start_colour_prototypes(scorer, [cache], min_count=10) == []


def _named(scorer: SlotScorer, colour: tuple[float, float, float], seen: float) -> int:
    """The word the scorer's namer gives a mask of balanced ``colour`` seen as ``seen``."""
    evidence = torch.zeros(1, evidence_size(D, V))
    tail = scorer._colour_start()
    evidence[0, tail:tail + 3] = seen
    evidence[0, tail + 3:tail + 6] = torch.tensor(colour)
    with torch.no_grad():
        return int(scorer.named_colours(evidence)[0].argmax())


def test_the_colour_namer_starts_naming_each_sources_answers() -> None:
    """A word may look one way in one source and another way in the other (the renderer's
    yellow and a Kinect's pale olive): a namer holds both, where one prototype sits
    between them; a source of few answers is not outvoted by a large one."""
    scorer = SlotScorer(D, 6, V, colour_namer=True)
    assert not hasattr(scorer, "colour_prototypes")
    real = _cache(scorer, 20, (0.5, -0.05, 0.12), YELLOW, 0)
    synthetic = _cache(scorer, 300, (0.6, 0.15, 0.2), YELLOW, 1)
    reds = _cache(scorer, 300, (0.55, 0.05, 0.15), RED, 2)  # between the two yellows
    right = start_colour_namer(scorer, [real, synthetic, reds])
    assert set(right) == {0, 1, 2} and min(right.values()) > 0.9
    assert _named(scorer, (0.5, -0.05, 0.12), 0.0) == YELLOW
    assert _named(scorer, (0.6, 0.15, 0.2), 0.0) == YELLOW
    assert _named(scorer, (0.55, 0.05, 0.15), 0.0) == RED


def test_the_colour_namer_has_nothing_to_start_from_without_answers() -> None:
    scorer = SlotScorer(D, 6, V, colour_namer=True)
    cache = _cache(scorer, 30, (0.5, -0.05, 0.12), YELLOW, 0)
    cache.iou[:] = 0.2
    assert start_colour_namer(scorer, [cache]) == {}
