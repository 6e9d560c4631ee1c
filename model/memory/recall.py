"""The Memory Module's three attention steps (MR-COSMO Fig. 3b).

(1) text self-attention: current text queries M_t; (2) feature-pair attention: each
point's [text ; point feature] queries the weighted pairs of Eq. 11; (3) cross-attention:
the recalled text queries the recalled point features of one detection slot, restricted to
that slot's box by an additive bias. The result conditions the binary mask classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from query3d.model.decoder.layers import AttentionBlock, FeedForwardBlock
from query3d.model.memory.bank import MemoryBank


def _bank_bias(valid: torch.Tensor) -> torch.Tensor:
    """(1, 1 + capacity): the always-present null entry, then -inf on empty slots."""
    zeros = torch.zeros(1, 1, dtype=torch.float32, device=valid.device)
    masked = torch.where(valid, 0.0, float("-inf")).to(torch.float32)[None]
    return torch.cat([zeros, masked], dim=1)


class MemoryRecall(nn.Module):
    """Reads the banks in the forward pass; ``bank.update`` writes them (no gradient).

    A learnable null entry sits in front of each bank so attention is defined while the
    banks are still empty (start of training, or a model trained with memory off), and so
    the network can learn to ignore memories that do not fit the current scene. With
    ``use_banks=False`` (the paper's "w/o Memory Module" ablation) steps (1) and (2) are
    skipped and step (3) pools the plain point features.
    """

    def __init__(
        self, dim: int, heads: int, capacity: int, tau: float, use_banks: bool = True
    ) -> None:
        super().__init__()
        self.use_banks = use_banks
        self.bank = MemoryBank(capacity, dim, tau)
        self.pair_query = nn.Linear(2 * dim, dim)
        if use_banks:
            self.null_text = nn.Parameter(torch.zeros(1, dim))
            self.null_pair = nn.Parameter(torch.zeros(1, 2 * dim))
            self.text_attn = AttentionBlock(dim, heads)
            self.pair_attn = AttentionBlock(dim, heads, kdim=2 * dim)
        self.cross_attn = AttentionBlock(dim, heads)
        self.cross_ffn = FeedForwardBlock(dim)

    def recall_text(self, text: torch.Tensor) -> torch.Tensor:
        """Step (1): (1, d) text -> (1, d), Key/Value = M_t."""
        if not self.use_banks:
            return text
        bank = torch.cat([self.null_text, self.bank.text], dim=0)
        return self.text_attn(text, bank, _bank_bias(self.bank.valid))

    def recall_points(self, text: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Step (2): per point [f_txt ; f_point] (N, 2d) -> (N, d), Key/Value = weighted M_p."""
        query = self.pair_query(torch.cat([text.expand(points.shape[0], -1), points], dim=-1))
        if not self.use_banks:
            return query
        pairs = torch.cat([self.null_pair, self.bank.weighted_pairs()], dim=0)
        return self.pair_attn(query, pairs, _bank_bias(self.bank.valid))

    def pool_slots(
        self, text: torch.Tensor, recalled: torch.Tensor, slot_bias: torch.Tensor
    ) -> torch.Tensor:
        """Step (3): recalled text (1, d) attends to recalled points under (K, N) bias -> (K, d)."""
        query = text.expand(slot_bias.shape[0], -1)
        return self.cross_ffn(self.cross_attn(query, recalled, slot_bias))
