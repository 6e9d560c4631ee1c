"""Attention and feed-forward blocks for unbatched (one scene) token sets.

The network handles one scene per forward (DESIGN.md runtime split), so blocks take
(L, C) tensors; attention goes through ``scaled_dot_product_attention``, which exports to
ONNX as MatMul/Softmax and lets PyTorch pick a fused kernel on GPUs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """Multi-head attention; ``bias`` is added to the logits, (Lq, Lk) or broadcastable."""

    def __init__(self, dim: int, heads: int, kdim: int | None = None, vdim: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kdim or dim, dim)
        self.v = nn.Linear(vdim or kdim or dim, dim)
        self.o = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        # (1, H, L, dh): ONNX's SDPA translation accepts 4-D inputs only
        return x.reshape(x.shape[0], self.heads, -1).transpose(0, 1)[None]

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = F.scaled_dot_product_attention(
            self._split(self.q(q)),
            self._split(self.k(k)),
            self._split(self.v(v)),
            attn_mask=None if bias is None else bias.to(q.dtype),
        )
        # clone, not contiguous(): export drops a contiguous() that looks like a no-op for
        # the traced kernel's strides, and ONNX decomposition of SDPA then fails to view
        heads_last = out[0].transpose(0, 1).clone(memory_format=torch.contiguous_format)
        return self.o(heads_last.reshape(q.shape[0], -1))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__(
            nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim * mult, dim)
        )


class AttentionBlock(nn.Module):
    """Pre-norm residual attention: x + Attn(LN(x), memory)."""

    def __init__(self, dim: int, heads: int, kdim: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, kdim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        pos: torch.Tensor | None = None,
        memory_pos: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Self-attention when ``memory`` is None; ``pos`` terms are added to queries/keys."""
        h = self.norm(x)
        q = h if pos is None else h + pos
        if memory is None:
            k, v = q, h
        else:
            k = memory if memory_pos is None else memory + memory_pos
            v = memory
        return x + self.drop(self.attn(q, k, v, bias))


class FeedForwardBlock(nn.Module):
    def __init__(self, dim: int, mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, mult, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(self.norm(x))


class FourierPosition(nn.Module):
    """Sin/cos features of metric xyz at octave frequencies, then a linear map to ``dim``.

    Wavelengths span ``min_wavelength`` .. ``max_wavelength`` metres so both centimetre
    detail on a tabletop and room-scale layout are resolved.
    """

    def __init__(
        self, dim: int, bands: int = 8, min_wavelength: float = 0.02, max_wavelength: float = 8.0
    ) -> None:
        super().__init__()
        ratio = (max_wavelength / min_wavelength) ** (1.0 / max(bands - 1, 1))
        wavelengths = min_wavelength * ratio ** torch.arange(bands, dtype=torch.float32)
        self.register_buffer("freqs", 2 * math.pi / wavelengths, persistent=False)
        self.proj = nn.Linear(3 + 6 * bands, dim)

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        angles = (xyz[..., :, None] * self.freqs).flatten(-2)  # (..., 3 * bands)
        return self.proj(torch.cat([xyz, angles.sin(), angles.cos()], dim=-1))
