"""Bidirectional Direct Alignment Block (MR-COSMO Eq. 2-7).

The same block aligns text with points (neighbours = kNN) and image with voxels
(neighbours = the 3x3x3 submanifold kernel map): project both sides to D (Eq. 2-3, with
MeanPool over the element and its neighbours), build [token, element, token_copy] (Eq. 4),
run forward and backward state-space passes (Eq. 5-6), LayerNorm the two terminal outputs
(Eq. 7), and project back to n_d.
"""

from __future__ import annotations

import torch
from torch import nn

from query3d.model.encoders.gather import masked_mean
from query3d.model.ssm import BidirectionalSSM


class BidirectionalDirectAlignment(nn.Module):
    """Aligns every row of ``feats`` with a guiding token (text or image).

    The block adds its result to the input (residual): the paper only says the projection
    returns to the input width; keeping the unaligned feature as a skip path lets the
    network start from its encoders' features while the alignment learns.
    """

    def __init__(self, dim: int, align_dim: int, ssm: str, ssm_state: int) -> None:
        super().__init__()
        self.W_token = nn.Linear(dim, align_dim, bias=False)  # W_txt (Eq. 2)
        self.W_element = nn.Linear(dim, align_dim, bias=False)  # W_point (Eq. 3)
        self.ssm = BidirectionalSSM(ssm, align_dim, ssm_state)
        self.norm = nn.LayerNorm(align_dim)
        self.out = nn.Linear(align_dim, dim)

    def element_neighbourhood(self, feats: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """MeanPool over each element and its neighbours, of f W (Eq. 3).

        W has no bias, so MeanPool(f W) == MeanPool(f) W; pooling first costs k+1 times
        fewer multiplications. Pad entries (== rows) are left out of the mean.
        """
        own = torch.arange(feats.shape[0], device=feats.device)[:, None]
        return self.W_element(masked_mean(feats, torch.cat([own, neighbours], dim=1)))

    def aligned_state(
        self, token: torch.Tensor, feats: torch.Tensor, neighbours: torch.Tensor
    ) -> torch.Tensor:
        """psi* of Eq. 7, (R, D). ``token`` is (1, n_d) (shared) or (R, n_d)."""
        maps = self.ssm.terminal_maps(3)
        if maps is not None:  # linear passes: fold W_txt / W_point into the unrolled scan
            own = torch.arange(feats.shape[0], device=feats.device)[:, None]
            pooled = masked_mean(feats, torch.cat([own, neighbours], dim=1))
            token_part = token @ (self.W_token.weight.T @ (maps[0] + maps[2]))
            return self.norm(pooled @ (self.W_element.weight.T @ maps[1]) + token_part)
        phi_token = self.W_token(token)
        phi_element = self.element_neighbourhood(feats, neighbours)
        return self.norm(self.ssm.terminal_sum([phi_token, phi_element, phi_token]))

    def forward(
        self, token: torch.Tensor, feats: torch.Tensor, neighbours: torch.Tensor
    ) -> torch.Tensor:
        return feats + self.out(self.aligned_state(token, feats, neighbours))
