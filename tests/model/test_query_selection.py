"""Spread query selection: greedy non-maximum suppression over the seeds' relevance,
checked against a plain numpy loop, and its ONNX graph against torch at other seed counts."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from query3d.config.model import ModelConfig
from query3d.model.export.onnx_export import export_onnx
from query3d.model.heads.query_selection import LanguageGuidedSelection, spread_selection


def greedy_reference(scores: np.ndarray, anchors: np.ndarray, count: int, radius: float,
                     plain: int = 0) -> list[int]:
    """Each step picks the candidate picked fewest times so far, then (after the first
    ``plain`` steps) with the fewest earlier picks within ``radius``, then the most
    relevant."""
    picks: list[int] = []
    for step in range(count):
        def key(i: int, spread: bool = step >= plain) -> tuple[int, int, float]:
            near = sum(np.linalg.norm(anchors[i] - anchors[j]) < radius for j in picks)
            return picks.count(i), near if spread else 0, -float(scores[i])
        picks.append(min(range(len(scores)), key=key))
    return picks


@pytest.mark.parametrize("seed", range(5))
def test_spread_selection_is_greedy_suppression(seed):
    g = np.random.default_rng(seed)
    anchors = g.uniform(0, 0.4, (60, 3)).astype(np.float32)
    scores = g.normal(size=60).astype(np.float32)
    got = spread_selection(torch.from_numpy(scores), torch.from_numpy(anchors), 16, 0.08)
    want = greedy_reference(scores, anchors, 16, 0.08)
    assert got.tolist() == want
    assert len(set(want)) == 16 and scores[want[0]] == scores.max()
    first = anchors[want[:4]]  # the first picks are all at least the radius apart
    gaps = np.linalg.norm(first[:, None] - first[None], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() >= 0.08


def test_the_first_plain_slots_are_top_k_and_push_the_rest_away():
    g = np.random.default_rng(7)
    anchors = g.uniform(0, 0.4, (50, 3)).astype(np.float32)
    scores = g.normal(size=50).astype(np.float32)
    got = spread_selection(torch.from_numpy(scores), torch.from_numpy(anchors), 12, 0.08,
                           plain=5).tolist()
    assert got[:5] == np.argsort(-scores)[:5].tolist()
    assert got == greedy_reference(scores, anchors, 12, 0.08, plain=5)


def test_plain_top_k_puts_the_slots_on_one_object_and_spread_does_not():
    # two objects: a very relevant one with many candidates, a second one less relevant
    g = np.random.default_rng(0)
    first = g.normal(0.0, 0.01, (30, 3))
    second = g.normal(0.0, 0.01, (30, 3)) + [0.3, 0.0, 0.0]
    anchors = torch.from_numpy(np.concatenate([first, second]).astype(np.float32))
    scores = torch.cat([torch.linspace(5, 4, 30), torch.linspace(2, 1, 30)])
    top = torch.topk(scores, 4).indices
    assert (top < 30).all()
    spread = spread_selection(scores, anchors, 4, 0.05)
    assert spread[0] == 0 and (spread >= 30).any()


def test_fewer_candidates_than_slots_repeat_the_candidates():
    scores = torch.tensor([0.5, 2.0, 1.0])
    anchors = torch.zeros(3, 3)  # all at one place: each suppresses the others
    got = spread_selection(scores, anchors, 7, 0.05).tolist()
    assert got[:3] == [1, 2, 0] and set(got) == {0, 1, 2}


def test_negative_spread_is_refused():
    with pytest.raises(ValueError, match="selection_spread"):
        ModelConfig(selection_spread=-0.01)
    with pytest.raises(ValueError, match="selection_spread"):
        LanguageGuidedSelection(8, heads=2, num_queries=3, spread=-1.0)


class Selected(torch.nn.Module):
    def __init__(self, spread: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.sel = LanguageGuidedSelection(8, heads=2, num_queries=5, spread=spread)

    def forward(self, feats, xyz, text):
        seeds = torch.cumsum(torch.ones(feats.shape[0], dtype=torch.long), 0) - 1
        out = self.sel(feats, xyz, seeds, text, torch.zeros(1, text.shape[0]))
        return out.selected, out.anchors


@pytest.mark.parametrize("spread", [0.0, 0.1])
def test_selection_exports_with_a_dynamic_candidate_count(tmp_path, spread):
    module = Selected(spread).eval()
    example = {"feats": torch.randn(40, 8), "xyz": torch.rand(40, 3), "text": torch.randn(4, 8)}
    path = export_onnx(module, example, ["selected", "anchors"], {"feats": {0: "S"},
                       "xyz": {0: "S"}}, tmp_path / "selection.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for count in (7, 90):
        feats, xyz = torch.randn(count, 8), torch.rand(count, 3)
        got = session.run(None, {"feats": feats.numpy(), "xyz": xyz.numpy(),
                                 "text": example["text"].numpy()})
        with torch.no_grad():
            want = module(feats, xyz, example["text"])
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_allclose(got[1], want[1].numpy(), atol=1e-6)
