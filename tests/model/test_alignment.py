"""DCMA: Eq. 14 by hand, neighbourhood pooling with pads, image tokens, ablation, order."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from query3d.model.alignment import (
    DCMA,
    BidirectionalDirectAlignment,
    ImageEvidence,
    symmetric_cross_entropy,
)


def test_symmetric_cross_entropy_matches_eq_14_by_hand():
    img = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    txt = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    scale = torch.tensor(math.log(2.0))  # logits = 2 * cosine
    gamma, delta, log_zero = 0.7, 0.3, -4.0
    got = symmetric_cross_entropy(img, txt, scale, gamma, delta, log_zero)

    cos = np.array([[0.8, 0.0], [0.96, 0.8]])  # rows: images, columns: texts (unit vectors)
    total = 0.0
    for logits in (2 * cos, 2 * cos.T):
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        ce = -np.mean(np.log(np.diag(p)))  # -sum_i y_i log p_i, y one-hot on the diagonal
        rce = -np.mean([sum(p[i, j] * (0.0 if i == j else log_zero) for j in range(2))
                        for i in range(2)])  # -sum_i p_i log y_i with log 0 := A
        total += gamma * ce + delta * rce
    assert float(got) == pytest.approx(total / 2, rel=1e-6)


def test_symmetric_cross_entropy_prefers_matching_pairs_and_needs_two():
    torch.manual_seed(0)
    emb = torch.randn(4, 8)
    scale = torch.tensor(math.log(10.0))
    matched = symmetric_cross_entropy(emb, emb, scale)
    shuffled = symmetric_cross_entropy(emb, emb[[1, 2, 3, 0]], scale)
    assert float(matched) < float(shuffled)
    assert float(symmetric_cross_entropy(emb[:1], emb[:1], scale)) == 0.0
    with pytest.raises(ValueError, match="embeddings"):
        symmetric_cross_entropy(emb, emb[:, :4], scale)


def test_neighbourhood_mean_skips_pad_entries():
    torch.manual_seed(1)
    block = BidirectionalDirectAlignment(4, 6, "lti", 0)
    feats = torch.randn(3, 4)
    knn = torch.tensor([[1, 3, 3], [0, 2, 3], [0, 1, 3]])  # 3 == N is a pad
    got = block.element_neighbourhood(feats, knn)
    want = block.W_element(torch.stack([
        feats[[0, 1]].mean(0), feats[[1, 0, 2]].mean(0), feats[[2, 0, 1]].mean(0)]))
    torch.testing.assert_close(got, want)


def test_block_is_point_order_equivariant():
    torch.manual_seed(2)
    block = BidirectionalDirectAlignment(4, 8, "mamba", 4)
    feats, tok = torch.randn(5, 4), torch.randn(1, 4)
    knn = torch.tensor([[1, 2], [0, 2], [1, 3], [4, 2], [3, 5]])  # 5 == pad
    perm = torch.tensor([3, 0, 4, 1, 2])
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(5)
    inv_pad = torch.cat([inv, torch.tensor([5])])
    out = block(tok, feats, knn)
    out_perm = block(tok, feats[perm], inv_pad[knn[perm]])
    torch.testing.assert_close(out_perm, out[perm])


def _toy_inputs(n=6, v=3, dim=4):
    torch.manual_seed(3)
    point2voxel = torch.tensor([0, 0, 1, 1, 2, 2])[:n]
    members = torch.tensor([[0, 1], [2, 3], [4, 5]])
    kmap = torch.full((v, 27), v)
    kmap[:, 13] = torch.arange(v)  # centre tap = the voxel itself
    kmap[0, 14], kmap[1, 12] = 1, 0
    knn = torch.tensor([[1], [0], [3], [2], [5], [4]])
    return dict(f_point=torch.randn(n, dim), knn=knn, f_voxel=torch.randn(v, dim), kmap=kmap,
                voxel_members=members, point2voxel=point2voxel)


def test_dcma_off_is_plain_concatenation():
    inputs = _toy_inputs()
    dcma = DCMA(4, 8, text_dim=5, image_dim=3, ssm="lti", ssm_state=0, enabled=False)
    out = dcma(**inputs, text_pooled=torch.randn(1, 5))
    want = torch.cat([inputs["f_point"], inputs["f_voxel"][inputs["point2voxel"]]], dim=1)
    torch.testing.assert_close(out.f_align, want)
    assert out.text_emb is None and out.image_emb is None
    assert not list(dcma.parameters())


def test_voxel_image_tokens_blend_seen_pixels_with_the_global_feature():
    inputs = _toy_inputs()
    dcma = DCMA(4, 8, text_dim=5, image_dim=2, ssm="lti", ssm_state=0)
    pix = torch.tensor([[1.0, 0], [3, 0], [0, 2], [0, 4], [5, 5], [5, 5]])
    visible = torch.tensor([True, True, True, False, False, False])
    glob = torch.tensor([[10.0, 20.0]])
    tokens = dcma.voxel_image_tokens(ImageEvidence(glob, pix, visible), inputs["voxel_members"])
    want = torch.tensor([[2.0, 0.0],  # both points seen: their mean
                         [0.5 * 0 + 0.5 * 10, 0.5 * 2 + 0.5 * 20],  # half seen: blend
                         [10.0, 20.0]])  # unseen: the scene's global image feature
    torch.testing.assert_close(tokens, want)


def test_dcma_aligns_both_pairs_and_every_parameter_learns():
    inputs = _toy_inputs()
    dcma = DCMA(4, 8, text_dim=5, image_dim=2, ssm="lti", ssm_state=0)
    image = ImageEvidence(torch.randn(1, 2), torch.randn(6, 2), torch.rand(6) > 0.5)
    out = dcma(**inputs, text_pooled=torch.randn(1, 5), image=image)
    assert out.f_align.shape == (6, 8)
    assert out.text_emb.shape == (1, 4) and out.image_emb.shape == (1, 4)
    # the alignment changed both halves relative to the unaligned concatenation
    assert not torch.allclose(out.f_align[:, :4], inputs["f_point"])
    assert not torch.allclose(out.f_align[:, 4:], inputs["f_voxel"][inputs["point2voxel"]])
    loss = out.f_align.square().sum() + symmetric_cross_entropy(
        torch.cat([out.image_emb, out.image_emb.flip(-1)]),
        torch.cat([out.text_emb, out.text_emb.flip(-1)]), dcma.constraints.logit_scale)
    loss.backward()
    missing = [n for n, p in dcma.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, missing
