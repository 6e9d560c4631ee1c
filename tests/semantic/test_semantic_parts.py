"""The semantic head's parts: class lists, superpoint pooling and labels, the
contrastive fit (held-out names stay out) and the base / novel table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from query3d.model.heads import SemanticHead, SuperpointPooling, pool_superpoints
from query3d.model.heads.semantic import (
    CLASS_PROMPTS,
    class_embeddings_from_prompts,
    class_prompts,
    parse_class_list,
)
from query3d.training.semantic.cache import StatsCache, superpoint_labels
from query3d.training.semantic.evaluate import _scores, format_semantic
from query3d.training.semantic.fit import HeadTraining, fit_semantic_head
from query3d.training.semantic.run import reset_seeded


def test_class_lists_are_parsed_and_bad_ones_refused() -> None:
    assert parse_class_list(" Mug,  coffee   table ,,box") == ["mug", "coffee table", "box"]
    assert parse_class_list(["Bowl", "tin"]) == ["bowl", "tin"]
    for bad, words in [("", "empty"), (" , ,", "empty"), ("mug, bowl, Mug", "more than once"),
                       ("mug, bo\x01wl", "printable")]:
        with pytest.raises(ValueError, match=words):
            parse_class_list(bad)


def test_prompt_ensembles_average_each_names_prompts() -> None:
    prompts = class_prompts(["mug", "bowl"])
    assert len(prompts) == 2 * len(CLASS_PROMPTS) and prompts[0] == CLASS_PROMPTS[0].format("mug")
    pooled = torch.randn(len(prompts), 5)
    table = class_embeddings_from_prompts(pooled, 2)
    first = F.normalize(F.normalize(pooled[:len(CLASS_PROMPTS)], dim=-1).mean(0), dim=0)
    assert torch.allclose(table[0], first, atol=1e-6)
    assert torch.allclose(table.norm(dim=-1), torch.ones(2))


def test_pooling_is_the_masked_mean_of_the_members() -> None:
    gen = torch.Generator().manual_seed(0)
    n, d = 10, 4
    feat, xyz, rgb = torch.randn(n, d, generator=gen), torch.randn(n, 3, generator=gen), \
        torch.rand(n, 3, generator=gen)
    members = torch.tensor([[0, 1, 2, n], [3, n, n, n], [4, 5, 6, 7]])  # pad = n
    visible = torch.zeros(n, dtype=torch.bool)
    visible[[1, 2, 5]] = True
    image = torch.randn(n, 6, generator=gen)
    stats = pool_superpoints(feat, xyz, rgb, members, image, visible)
    assert torch.allclose(stats.feat[0], feat[:3].mean(0), atol=1e-6)
    assert torch.allclose(stats.descriptor[2, 3:6], xyz[4:8].amax(0) - xyz[4:8].amin(0))
    assert torch.allclose(stats.image[0], image[[1, 2]].mean(0), atol=1e-6)
    assert stats.seen[:, 0].tolist() == [2.0, 0.0, 1.0]
    pooling = SuperpointPooling(d, 6)
    tokens = pooling(feat, xyz, rgb, members, image, visible).tokens
    assert torch.allclose(tokens, pooling.tokens(stats))
    # a superpoint no view saw gets no image term; names-only ignores the views entirely
    assert torch.allclose(pooling.tokens(stats)[1], pooling.tokens(stats, use_image=False)[1])
    assert not torch.allclose(pooling.tokens(stats)[0], pooling.tokens(stats, False)[0])


def test_superpoint_labels_take_the_majority_and_say_how_pure() -> None:
    superpoint = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    label = np.array([1, 1, 0, -1, -1, 2, -1, -1])
    names, purity = superpoint_labels(superpoint, label, 3, num_names=3)
    assert names.tolist() == [1, -1, -1]
    assert purity.tolist() == pytest.approx([2 / 3, 1.0, 2 / 3])


def _separable_cache(names: list[str], rows_per_scene: int = 30, scenes: int = 6,
                     seed: int = 0) -> StatsCache:
    """Each class's superpoints share a feature direction (plus noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(names), 8)) * 3
    label = rng.integers(len(names), size=rows_per_scene * scenes)
    feat = centres[label] + rng.normal(size=(len(label), 8)) * 0.3
    return StatsCache(names, feat.astype(np.float16), rng.normal(size=(len(label), 13))
                      .astype(np.float32), np.zeros((len(label), 8), np.float16),
                      np.zeros(len(label), np.float32), label.astype(np.int16),
                      np.ones(len(label), np.float16),
                      np.arange(0, len(label) + 1, rows_per_scene))


def test_the_fit_separates_trained_names_and_never_sees_held_out_ones() -> None:
    names = ["box", "mug", "bowl", "plate"]
    cache = _separable_cache(names)
    table = F.normalize(torch.eye(4, 16), dim=-1)
    embeddings = {n: table[i] for i, n in enumerate(names)}
    del embeddings["plate"]  # held out: needs no embedding, since it is never a target
    head = SemanticHead(8, 8, 16)
    settings = HeadTraining(steps=150, batch_scenes=3, lr=5e-3, held_out=("plate",))
    trained = fit_semantic_head(head, [cache], embeddings, settings)
    assert trained == ["box", "mug", "bowl"]
    assert settings.history[-1]["loss"] < 0.5 * settings.history[0]["loss"]
    keep = cache.label != 3
    rows = np.flatnonzero(keep)
    with torch.no_grad():
        logits = head.logits(head(cache.stats(rows)), table[:3])
    accuracy = (logits.argmax(-1).numpy() == cache.label[rows]).mean()
    assert accuracy > 0.9
    with pytest.raises(ValueError, match="at least two names"):
        fit_semantic_head(SemanticHead(8, 8, 16), [cache], embeddings,
                          HeadTraining(steps=1, held_out=("box", "mug", "bowl")))


def test_repeats_let_a_small_real_split_teach_its_own_class() -> None:
    """Many synthetic scenes of box / mug beside one real scan holding the only cans: drawn
    at face value the scan is in a few batches and its cans stay unlearnt; repeated, they
    are learnt in the same number of steps."""
    rng = np.random.default_rng(3)
    many = _separable_cache(["box", "mug"], rows_per_scene=20, scenes=60, seed=1)
    real = _separable_cache(["can", "box"], rows_per_scene=40, scenes=1, seed=2)
    real.feat = (rng.normal(size=(4, 8)) * 3)[real.label] \
        + rng.normal(size=(len(real.label), 8)) * 0.3  # its own feature directions
    real.feat = real.feat.astype(np.float16)
    names = ["box", "mug", "can"]
    table = F.normalize(torch.eye(3, 16), dim=-1)
    embeddings = {n: table[i] for i, n in enumerate(names)}
    cans = np.flatnonzero(real.label == 0)

    def can_accuracy(repeats: list[int]) -> float:
        head = SemanticHead(8, 8, 16)
        reset_seeded(head, 0)  # each run from the same start
        fit_semantic_head(head, [many, real], embeddings,
                          HeadTraining(steps=30, batch_scenes=2, lr=5e-3, seed=4), repeats)
        with torch.no_grad():
            logits = head.logits(head(real.stats(cans)), table)
        return float((logits.argmax(-1).numpy() == 2).mean())

    assert can_accuracy([1, 60]) > 0.9
    assert can_accuracy([1, 1]) < 0.5


def test_base_novel_table_from_hand_made_predictions() -> None:
    classes = ["box", "mug", "cup", "table"]
    truth = np.array([0] * 4 + [1] * 4 + [2] * 4 + [3] * 8)
    pred = truth.copy()
    pred[8:10] = 1  # half of the novel cups called mug
    from query3d.training.metrics.semantic import confusion_matrix

    scores = _scores(confusion_matrix(pred, truth, 4), classes, ("cup",))
    mug_iou = 4 / 6
    assert scores["iou_per_class"]["cup"] == pytest.approx(0.5)
    assert scores["miou_novel"] == pytest.approx(0.5)
    assert scores["miou_base"] == pytest.approx((1 + mug_iou + 1) / 3)
    b, n = scores["miou_base"], scores["miou_novel"]
    assert scores["hiou"] == pytest.approx(2 * b * n / (b + n))
    summary = {"kind": "tabletop", "split": "val", "scenes": 1, "points": 20,
               "novel": ["cup"], "classes": classes, "network": scores,
               "most_frequent": scores, "random_names": scores}
    text = format_semantic(summary)
    assert "cup *" in text and "hiou" in text and "50.0" in text
