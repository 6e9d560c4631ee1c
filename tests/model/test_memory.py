"""Memory Module: Eq. 9-11 by hand, the bank's update policy, checkpointing, recall."""

from __future__ import annotations

import pytest
import torch

from query3d.model.memory import MemoryBank, MemoryRecall, category_balanced_weights


def test_eq_9_10_weights_match_hand_computation():
    bce = torch.tensor([0.1, 0.5, 0.2, 1.0, 7.0])
    category = torch.tensor([0, 0, 1, 0, 2])
    valid = torch.tensor([True, True, True, True, False])
    tau = 0.5
    w = category_balanced_weights(bce, category, valid, tau)
    # category 0: initial weights 1/0.6, 1/1.0, 1/1.5
    init = [1 / 0.6, 1 / 1.0, 1 / 1.5]
    total = sum(init)
    want = [init[0] / total, init[1] / total, 1.0, init[2] / total, 0.0]
    torch.testing.assert_close(w, torch.tensor(want))
    assert float(w[category == 0].sum()) == pytest.approx(1.0)
    assert w[0] > w[1] > w[3]  # lower loss -> more weight


def test_tau_must_be_positive():
    with pytest.raises(ValueError, match="tau"):
        category_balanced_weights(torch.zeros(2), torch.zeros(2, dtype=torch.long),
                                  torch.ones(2, dtype=torch.bool), 0.0)


def test_update_fills_then_keeps_the_most_confident_pairs():
    bank = MemoryBank(capacity=3, dim=2, tau=1.0)
    feats = torch.arange(10, dtype=torch.float32).reshape(5, 2)
    bank.update(feats[:3], -feats[:3], torch.tensor([0, 1, 0]), torch.tensor([0.3, 0.9, 0.5]))
    assert len(bank) == 3
    bank.update(feats[3:4], -feats[3:4], torch.tensor([1]), torch.tensor([2.0]))  # worse: dropped
    assert 2.0 not in bank.bce.tolist()
    bank.update(feats[4:5], -feats[4:5], torch.tensor([1]), torch.tensor([0.1]))  # replaces 0.9
    assert sorted(bank.bce.tolist()) == pytest.approx([0.1, 0.3, 0.5])
    slot = int(torch.nonzero(bank.bce == bank.bce.min())[0])
    torch.testing.assert_close(bank.text[slot], feats[4])
    torch.testing.assert_close(bank.visual[slot], -feats[4])
    torch.testing.assert_close(
        bank.weight, category_balanced_weights(bank.bce, bank.category, bank.valid, 1.0))
    # Eq. 11: pairs are stored scaled by their weights
    torch.testing.assert_close(
        bank.weighted_pairs(), bank.weight[:, None] * torch.cat([bank.text, bank.visual], 1))


def test_update_rejects_bad_shapes_and_losses():
    bank = MemoryBank(capacity=2, dim=3, tau=1.0)
    with pytest.raises(ValueError, match="shape"):
        bank.update(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="non-finite"):
        bank.update(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, dtype=torch.long),
                    torch.tensor([float("nan")]))


def test_banks_travel_with_the_state_dict():
    recall = MemoryRecall(dim=4, heads=2, capacity=5, tau=1.0)
    recall.bank.update(torch.randn(2, 4), torch.randn(2, 4), torch.tensor([3, 3]),
                       torch.tensor([0.2, 0.4]))
    clone = MemoryRecall(dim=4, heads=2, capacity=5, tau=1.0)
    clone.load_state_dict(recall.state_dict())
    for name in ("text", "visual", "bce", "category", "valid", "weight"):
        torch.testing.assert_close(getattr(clone.bank, name), getattr(recall.bank, name))


def test_recall_ignores_empty_slots_and_uses_stored_pairs():
    torch.manual_seed(0)
    recall = MemoryRecall(dim=4, heads=2, capacity=4, tau=1.0)
    with torch.no_grad():  # non-zero null entries so the empty-bank output is not trivial
        recall.null_text.normal_()
        recall.null_pair.normal_()
    text, points = torch.randn(1, 4), torch.randn(7, 4)
    empty = (recall.recall_text(text), recall.recall_points(text, points))
    assert all(torch.isfinite(t).all() for t in empty)
    recall.bank.text.normal_()  # garbage in slots that are not valid must not matter
    recall.bank.visual.normal_()
    torch.testing.assert_close(recall.recall_text(text), empty[0])
    torch.testing.assert_close(recall.recall_points(text, points), empty[1])
    recall.bank.update(torch.randn(2, 4), torch.randn(2, 4), torch.tensor([0, 1]),
                       torch.tensor([0.1, 0.2]))
    assert not torch.allclose(recall.recall_text(text), empty[0])
    assert not torch.allclose(recall.recall_points(text, points), empty[1])


def test_slot_pooling_is_restricted_by_the_bias():
    torch.manual_seed(1)
    recall = MemoryRecall(dim=4, heads=2, capacity=2, tau=1.0)
    text, points = torch.randn(1, 4), torch.randn(5, 4)
    bias = torch.full((2, 5), float("-inf"))
    bias[0, :2] = 0.0  # slot 0 sees points 0, 1
    bias[1, 2:] = 0.0  # slot 1 sees points 2..4
    pooled = recall.pool_slots(text, points, bias)
    changed = points.clone()
    changed[3] += 5.0  # only slot 1 can notice
    pooled2 = recall.pool_slots(text, changed, bias)
    torch.testing.assert_close(pooled[0], pooled2[0])
    assert not torch.allclose(pooled[1], pooled2[1])


def test_without_banks_no_bank_attention_is_built():
    recall = MemoryRecall(dim=4, heads=2, capacity=2, tau=1.0, use_banks=False)
    names = {n for n, _ in recall.named_parameters()}
    assert not any(n.startswith(("text_attn", "pair_attn", "null_")) for n in names)
    text = torch.randn(1, 4)
    torch.testing.assert_close(recall.recall_text(text), text)
