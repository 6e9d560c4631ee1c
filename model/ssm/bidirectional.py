"""Forward and backward state-space passes over one sequence (MR-COSMO Eq. 5-7)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from query3d.model.ssm.base import build_ssm


class BidirectionalSSM(nn.Module):
    """Two independent models of the same variant; the backward one reads the steps reversed.

    Outputs are indexed by position in the original sequence, as in the paper's text:
    ``psi_b[0]`` (psi_1^b) is the backward model's last step, having read the whole
    sequence, which is why Eq. 7 pairs it with psi_3^f.
    """

    def __init__(self, name: str, dim: int, state: int) -> None:
        super().__init__()
        self.forward_model = build_ssm(name, dim, state)
        self.backward_model = build_ssm(name, dim, state)

    def forward(
        self, steps: Sequence[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        psi_f = self.forward_model(list(steps))
        psi_b = self.backward_model(list(steps)[::-1])[::-1]
        return psi_f, psi_b

    def terminal_maps(self, num_steps: int) -> list[torch.Tensor] | None:
        """Per-step matrices of ``terminal_sum`` when both passes are linear, else None."""
        fwd = self.forward_model.last_output_maps(num_steps)
        bwd = self.backward_model.last_output_maps(num_steps)
        if fwd is None or bwd is None:
            return None
        return [f + b for f, b in zip(fwd, bwd[::-1])]

    def terminal_sum(self, steps: Sequence[torch.Tensor]) -> torch.Tensor:
        """psi_L^f + psi_1^b: the two outputs that have seen the whole sequence."""
        steps = list(steps)
        maps = self.terminal_maps(len(steps))
        if maps is not None:
            return sum(x @ m for x, m in zip(steps, maps))
        psi_f = self.forward_model(steps, last_only=True)[0]
        return psi_f + self.backward_model(steps[::-1], last_only=True)[0]
