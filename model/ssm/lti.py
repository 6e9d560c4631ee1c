"""Eq. 5-6 exactly: a linear time-invariant state-space model with D x D matrices."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from query3d.model.ssm.base import SSM_REGISTRY, SequenceModel


@SSM_REGISTRY.register("lti")
class LTISSM(SequenceModel):
    """h_t = A h_{t-1} + B x_t,  psi_t = C h_t + D x_t,  h_0 = 0, all of A..D in R^{DxD}.

    A starts as a scaled orthogonal matrix so that the three-step recurrence neither
    explodes nor forgets at initialisation; B, C, D start like ordinary linear layers.
    """

    def __init__(self, dim: int, state: int = 0) -> None:
        super().__init__()
        del state  # Eq. 6 fixes the hidden state to R^D
        self.dim = dim
        bound = 1.0 / math.sqrt(dim)
        self.A = nn.Parameter(0.5 * torch.linalg.qr(torch.randn(dim, dim))[0])
        self.B = nn.Parameter(torch.empty(dim, dim).uniform_(-bound, bound))
        self.C = nn.Parameter(torch.empty(dim, dim).uniform_(-bound, bound))
        self.D = nn.Parameter(torch.empty(dim, dim).uniform_(-bound, bound))

    def forward(self, steps: Sequence[torch.Tensor], last_only: bool = False) -> list[torch.Tensor]:
        # Row-vector form: (A h)^T = h^T A^T, so every product is x @ M.T.
        h: torch.Tensor | None = None
        outs = []
        for t, x in enumerate(steps):
            drive = x @ self.B.T
            h = drive if h is None else h @ self.A.T + drive
            if not last_only or t == len(steps) - 1:
                outs.append(h @ self.C.T + x @ self.D.T)
        return outs

    def last_output_maps(self, num_steps: int) -> list[torch.Tensor]:
        """Unrolled Eq. 5-6: psi_L = sum_t x_t B^T (A^T)^(L-1-t) C^T + x_L D^T.

        Lets a caller apply one D x D product per step instead of three per step, and
        fold a preceding bias-free projection into it (the DCMA block does both).
        """
        maps: list[torch.Tensor] = []
        tail = self.C.T  # (A^T)^k C^T, built from the last step backwards
        for _ in range(num_steps):
            maps.append(self.B.T @ tail)
            tail = self.A.T @ tail
        maps.reverse()
        maps[-1] = maps[-1] + self.D.T
        return maps
