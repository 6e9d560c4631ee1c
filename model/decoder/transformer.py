"""Multi-layer multi-scale Transformer encoder-decoder over f_align (MR-COSMO Fig. 2).

Encoder: each layer pools the point features into every voxel scale (masked mean over the
preprocessed member tables), runs global self-attention + text cross-attention on the
coarsest scale (the only one small enough for all-pairs attention on a CPU), a per-voxel
feed-forward on the other scales, and adds every scale back to its points. Decoder: the
K query slots attend to each other, to the text tokens, and to one voxel scale per layer,
cycling coarse -> fine (Mask2Former's round-robin over feature levels).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from query3d.model.decoder.layers import AttentionBlock, FeedForwardBlock, FourierPosition
from query3d.model.encoders.gather import masked_mean, take_rows


@dataclass
class ScaleIndex:
    """One voxel scale of a frame: members (V, M) padded with N, point2voxel (N,), centre (V, 3)."""

    members: torch.Tensor
    point2voxel: torch.Tensor
    center: torch.Tensor


class ScaleUnpool(nn.Sequential):
    """LayerNorm + Linear over each point's tokens of every scale, concatenated
    scale-major: ``self(torch.cat([t[p2v] for t, p2v in ...], -1))``.

    ``to_points`` gives the same without building that (N, scales * dim) row: the linear
    map is split by scale and applied to each scale's few voxel tokens before they are
    gathered to the points, and the norm's mean and variance come from per-voxel sums
    (W (LN(b)) = (W diag(g) b - mean W g) / std + W beta + bias). Same parameters, and
    state-dict keys, as ``nn.Sequential(nn.LayerNorm, nn.Linear)``."""

    def __init__(self, num_scales: int, dim: int) -> None:
        super().__init__(nn.LayerNorm(num_scales * dim), nn.Linear(num_scales * dim, dim))

    def to_points(self, tokens: list[torch.Tensor], point2voxel: list[torch.Tensor]
                  ) -> torch.Tensor:
        """tokens (V_s, d) per scale, point2voxel (N,) per scale -> (N, out)."""
        norm, linear = self[0], self[1]
        width = norm.normalized_shape[0]
        scaled = linear.weight * norm.weight  # W diag(gamma), (out, width)
        parts = scaled.split([t.shape[-1] for t in tokens], dim=1)
        summed = None
        for t, p2v, w in zip(tokens, point2voxel, parts):
            per_voxel = torch.cat([t @ w.T, t.sum(-1, keepdim=True),
                                   (t * t).sum(-1, keepdim=True)], dim=-1)
            rows = take_rows(per_voxel, p2v)
            summed = rows if summed is None else summed + rows
        assert summed is not None, "no scales"
        projected, total, squares = summed.split([linear.out_features, 1, 1], dim=-1)
        mean = total / width
        inv_std = torch.rsqrt((squares / width - mean * mean).clamp_min(0.0) + norm.eps)
        shift = linear.weight @ norm.bias + linear.bias
        return inv_std * (projected - mean * scaled.sum(dim=1)) + shift


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, num_scales: int, dropout: float) -> None:
        super().__init__()
        self.coarse_self = AttentionBlock(dim, heads, dropout=dropout)
        self.coarse_text = AttentionBlock(dim, heads, dropout=dropout)
        self.coarse_ffn = FeedForwardBlock(dim, dropout=dropout)
        self.fine_ffn = nn.ModuleList(FeedForwardBlock(dim) for _ in range(num_scales - 1))
        self.unpool = ScaleUnpool(num_scales, dim)
        self.point_ffn = FeedForwardBlock(dim, dropout=dropout)

    def forward(
        self,
        x: torch.Tensor,
        scales: list[ScaleIndex],
        scale_pos: list[torch.Tensor],
        text: torch.Tensor,
        text_bias: torch.Tensor,
        scale_feats: list[torch.Tensor],
    ) -> torch.Tensor:
        pooled = [masked_mean(x, s.members) + f for s, f in zip(scales, scale_feats)]
        coarse = self.coarse_self(pooled[-1], pos=scale_pos[-1])
        coarse = self.coarse_ffn(self.coarse_text(coarse, text, text_bias, pos=scale_pos[-1]))
        tokens = [ffn(p) for ffn, p in zip(self.fine_ffn, pooled[:-1])] + [coarse]
        back = self.unpool.to_points(tokens, [s.point2voxel for s in scales])
        return self.point_ffn(x + back)


class MultiScaleEncoder(nn.Module):
    def __init__(
        self, dim: int, heads: int, layers: int, num_scales: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.position = FourierPosition(dim)
        self.layers = nn.ModuleList(
            EncoderLayer(dim, heads, num_scales, dropout) for _ in range(layers)
        )

    def forward(
        self,
        x: torch.Tensor,
        scales: list[ScaleIndex],
        text: torch.Tensor,
        text_bias: torch.Tensor,
        scale_feats: list[torch.Tensor],
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """-> point features (N, d), per-scale voxel tokens and their positional codes.

        ``scale_feats`` (V_s, d) are the voxel encoder's own per-scale features; every
        layer adds them to the pooled tokens, a skip path from the voxel branch.
        """
        if len(scale_feats) != len(scales):
            raise ValueError(f"{len(scale_feats)} voxel feature scales for {len(scales)} scales")
        scale_pos = [self.position(s.center) for s in scales]
        for layer in self.layers:
            x = layer(x, scales, scale_pos, text, text_bias, scale_feats)
        tokens = [masked_mean(x, s.members) + f for s, f in zip(scales, scale_feats)]
        return x, tokens, scale_pos


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = AttentionBlock(dim, heads, dropout=dropout)
        self.text_attn = AttentionBlock(dim, heads, dropout=dropout)
        self.scene_attn = AttentionBlock(dim, heads, dropout=dropout)
        self.ffn = FeedForwardBlock(dim, dropout=dropout)

    def forward(
        self,
        q: torch.Tensor,
        q_pos: torch.Tensor,
        text: torch.Tensor,
        text_bias: torch.Tensor,
        tokens: torch.Tensor,
        token_pos: torch.Tensor,
    ) -> torch.Tensor:
        q = self.self_attn(q, pos=q_pos)
        q = self.text_attn(q, text, text_bias, pos=q_pos)
        q = self.scene_attn(q, tokens, pos=q_pos, memory_pos=token_pos)
        return self.ffn(q)


class QueryDecoder(nn.Module):
    def __init__(self, dim: int, heads: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.position = FourierPosition(dim)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        queries: torch.Tensor,
        anchors: torch.Tensor,
        text: torch.Tensor,
        text_bias: torch.Tensor,
        tokens: list[torch.Tensor],
        token_pos: list[torch.Tensor],
    ) -> torch.Tensor:
        q_pos = self.position(anchors)
        for i, layer in enumerate(self.layers):
            level = len(tokens) - 1 - i % len(tokens)  # coarse -> fine, then again
            queries = layer(queries, q_pos, text, text_bias, tokens[level], token_pos[level])
        return self.norm(queries)
