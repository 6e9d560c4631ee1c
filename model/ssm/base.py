"""The interface every state-space variant implements, and the registry that names them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from query3d.registry import Registry

SSM_REGISTRY = Registry("state-space model")


class SequenceModel(nn.Module):
    """A causal scan over a short sequence given as a list of steps.

    Steps are a list (not one stacked tensor) because in DCMA the text steps are shared
    by every point: passing them as ``(1, D)`` next to per-point ``(N, D)`` steps lets
    broadcasting skip N copies of the same work. The list length is static, so the
    unrolled loop traces to a fixed graph.
    """

    dim: int

    def forward(self, steps: Sequence[torch.Tensor], last_only: bool = False) -> list[torch.Tensor]:
        """Outputs for every step; with ``last_only`` just ``[psi_L]``.

        Eq. 7 reads only the terminal outputs, and each skipped output is a per-point
        D x D product, so the alignment block asks for the last one alone.
        """
        raise NotImplementedError

    def last_output_maps(self, num_steps: int) -> list[torch.Tensor] | None:
        """Matrices M_t with psi_L = sum_t x_t M_t, for variants linear in their input.

        Input-dependent (selective) variants return None; callers then run the scan.
        """
        return None

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D); the stacked form, for tests and batch use."""
        outs = self.forward([x[:, t] for t in range(x.shape[1])])
        return torch.stack(outs, dim=1)


def build_ssm(name: str, dim: int, state: int) -> SequenceModel:
    """Build the variant ``name`` (``cfg.ssm``) for width ``dim``.

    ``state`` is the selective scan's per-channel state size; ``lti`` ignores it because
    Eq. 6 fixes its hidden state to R^D.
    """
    return SSM_REGISTRY.build(name, dim=dim, state=state)
