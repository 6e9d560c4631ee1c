"""Selective scan (Mamba's S6): the input-dependent twin of Eq. 5-6.

Two implementations share one set of weights: mamba-ssm's fused CUDA kernel
(``selective_scan_fn``), used on CUDA tensors where the package imports, and
``selective_scan_reference``, a pure-torch scan that runs anywhere and exports to ONNX.
The reference follows the kernel's contract argument for argument so the two can be
compared directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from query3d.model.encoders.gather import exporting
from query3d.model.ssm.base import SSM_REGISTRY, SequenceModel


def _load_mamba_kernel() -> Callable[..., torch.Tensor] | None:
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, or a CUDA extension that fails to load without a GPU
        return None
    return selective_scan_fn


mamba_selective_scan = _load_mamba_kernel()


def selective_scan_reference(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> torch.Tensor:
    """Pure-torch selective scan with mamba-ssm's ``selective_scan_fn`` contract.

    u, delta: (b, d, L); A: (d, n); B, C: (b, n, L); D, delta_bias: (d,). Returns (b, d, L).
    Discretisation as in Mamba: A_bar = exp(delta * A) (zero-order hold), B_bar u =
    delta * B * u (Euler). The loop over L is unrolled: L is small and static here.
    """
    if delta_bias is not None:
        delta = delta + delta_bias[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    outs = []
    h = None
    for t in range(u.shape[-1]):
        dt = delta[:, :, t, None]  # (b, d, 1)
        drive = dt * u[:, :, t, None] * B[:, None, :, t]  # (b, d, n)
        h = drive if h is None else torch.exp(dt * A) * h + drive
        outs.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(outs, dim=-1)
    if D is not None:
        y = y + u * D[None, :, None]
    return y


@SSM_REGISTRY.register("mamba")
class SelectiveSSM(SequenceModel):
    """S6 layer: delta, B and C are computed from each input step (selection).

    Initialisation follows Mamba: A = -[1..n] per channel (S4D-real), D = 1, and the
    delta bias chosen so softplus(bias) is log-uniform in [1e-3, 1e-1].
    """

    def __init__(self, dim: int, state: int = 16, dt_min: float = 1e-3, dt_max: float = 0.1):
        super().__init__()
        self.dim, self.state = dim, state
        self.dt_rank = math.ceil(dim / 16)
        self.x_proj = nn.Linear(dim, self.dt_rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, dim, bias=True)
        dt = torch.exp(torch.rand(dim) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state + 1).float()).repeat(dim, 1))
        self.D = nn.Parameter(torch.ones(dim))
        self.use_fused_kernel = True

    def _selection(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dt_low, b, c = self.x_proj(x).split([self.dt_rank, self.state, self.state], dim=-1)
        return dt_low @ self.dt_proj.weight.T, b, c  # delta before bias + softplus

    def _fused_ok(self, x: torch.Tensor) -> bool:
        return (
            self.use_fused_kernel
            and mamba_selective_scan is not None
            and x.is_cuda
            and not exporting()
        )

    def forward(self, steps: Sequence[torch.Tensor], last_only: bool = False) -> list[torch.Tensor]:
        A = -torch.exp(self.A_log)
        if self._fused_ok(steps[0]):
            x = torch.stack(torch.broadcast_tensors(*steps), dim=-1)  # (..., d, L)
            lead = x.shape[:-2]
            u = x.reshape(-1, self.dim, x.shape[-1]).contiguous()
            dt, b, c = self._selection(u.transpose(1, 2))
            y = mamba_selective_scan(
                u,
                dt.transpose(1, 2).contiguous(),
                A,
                b.transpose(1, 2).contiguous(),
                c.transpose(1, 2).contiguous(),
                self.D.float(),
                None,
                self.dt_proj.bias.float(),
                True,
            )
            outs = list(y.reshape(*lead, self.dim, -1).unbind(-1))
            return outs[-1:] if last_only else outs
        outs = []
        h = None
        for t, x in enumerate(steps):
            dt_raw, b, c = self._selection(x)
            dt = F.softplus(dt_raw + self.dt_proj.bias)[..., None]  # (..., d, 1)
            drive = dt * x[..., None] * b[..., None, :]  # (..., d, n)
            h = drive if h is None else torch.exp(dt * A) * h + drive
            if not last_only or t == len(steps) - 1:
                outs.append((h * c[..., None, :]).sum(-1) + self.D * x)
        return outs

    def scan_arguments(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The kernel's arguments for a stacked (b, L, d) input, to compare the twins."""
        dt, b, c = self._selection(x)
        return {
            "u": x.transpose(1, 2).contiguous(),
            "delta": dt.transpose(1, 2).contiguous(),
            "A": -torch.exp(self.A_log),
            "B": b.transpose(1, 2).contiguous(),
            "C": c.transpose(1, 2).contiguous(),
            "D": self.D,
            "delta_bias": self.dt_proj.bias,
        }
