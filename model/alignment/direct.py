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

    def element_state(self, feats: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """The elements' share of psi* (Eq. 3, and its term of the scan when both passes are
        linear), (R, D): it does not depend on the guiding token, so a cloud's is computed
        once and every command on the cloud reuses it (``FrameEncoding.point_context``)."""
        phi_element = self.element_neighbourhood(feats, neighbours)
        maps = self.ssm.terminal_maps(3)
        return phi_element if maps is None else phi_element @ maps[1]

    def aligned_state(self, token: torch.Tensor, element_state: torch.Tensor) -> torch.Tensor:
        """psi* of Eq. 7, (R, D). ``token`` is (1, n_d) (shared) or (R, n_d);
        ``element_state`` is ``element_state(feats, neighbours)``."""
        phi_token = self.W_token(token)
        maps = self.ssm.terminal_maps(3)
        if maps is not None:  # linear passes: the scan's output is a sum of per-step maps
            return self.norm(element_state + phi_token @ (maps[0] + maps[2]))
        return self.norm(self.ssm.terminal_sum([phi_token, element_state, phi_token]))

    def forward(
        self, token: torch.Tensor, feats: torch.Tensor, neighbours: torch.Tensor,
        element_state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if element_state is None:
            element_state = self.element_state(feats, neighbours)
        return feats + self.out(self.aligned_state(token, element_state))
