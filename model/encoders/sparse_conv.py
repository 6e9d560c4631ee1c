"""Submanifold 3x3x3 sparse convolution: a pure-torch gather-GEMM twin of spconv.

``SubmanifoldConv3d`` keeps its weight exactly as spconv's ``SubMConv3d`` does
((out, 3, 3, 3, in) and (out,) bias, same parameter names), so state dicts load into
either backend unchanged. The torch path reads neighbours through the precomputed kernel
map (``preprocess.submanifold_kernel_map``) and is only Gather + MatMul, hence exportable;
spconv (``backend="spconv"``) is the fast training kernel and runs on CPU with
``ConvAlgo.Native``. At inference outside an export the torch path sums only the real
taps (``embedding_bag``), the same conv without the (V, 27 * in) copy.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .gather import can_fuse, gather_rows, reduce_bags

KERNEL_VOLUME = 27
BACKENDS = ("torch", "spconv")


class SubmanifoldConv3d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, 3, 3, 3, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        bound = 1.0 / math.sqrt(KERNEL_VOLUME * in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, feats: torch.Tensor, kmap: torch.Tensor) -> torch.Tensor:
        """feats (V, in), kmap (V, 27) with pad V -> (V, out).

        One gather of all 27 taps and one GEMM over the stacked (27 * in) features: on a
        CPU 27 small GEMMs, each after copying the padded table, cost ~2x as much.
        """
        if can_fuse(feats, kmap):
            return self._tap_sums(feats, kmap)
        taps = gather_rows(feats, kmap).reshape(-1, KERNEL_VOLUME * self.in_channels)
        kernels = self.weight.reshape(self.out_channels, KERNEL_VOLUME * self.in_channels)
        return F.linear(taps, kernels, self.bias)

    def _tap_sums(self, feats: torch.Tensor, kmap: torch.Tensor) -> torch.Tensor:
        """The same conv at inference: every voxel through all 27 kernels in one GEMM
        (V, 27 * out), then each output sums its real taps' rows in one ``embedding_bag``;
        two thirds of a surface's taps are empty, and no (V, 27 * in) copy is made."""
        per_tap = self.weight.reshape(self.out_channels, KERNEL_VOLUME, self.in_channels)
        through = F.linear(feats, per_tap.transpose(0, 1).reshape(-1, self.in_channels))
        rows = kmap * KERNEL_VOLUME + torch.arange(KERNEL_VOLUME, device=kmap.device)
        out = reduce_bags(through.reshape(-1, self.out_channels), rows,
                          kmap < feats.shape[0], "sum")
        return out if self.bias is None else out + self.bias


def import_spconv() -> Any:
    """spconv.pytorch, or a ValueError that says how to get it (it is optional)."""
    try:
        import spconv.pytorch as spconv
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError("sparse_backend 'spconv' needs the spconv package "
                         "(pip install spconv-cu120)") from exc
    return spconv


def make_submanifold_conv(in_channels: int, out_channels: int, backend: str,
                          indice_key: str = "subm") -> nn.Module:
    """A 3x3x3 submanifold conv of the chosen backend; both share a state-dict layout."""
    if backend == "torch":
        return SubmanifoldConv3d(in_channels, out_channels)
    if backend == "spconv":
        spconv = import_spconv()
        algo = spconv.ConvAlgo.Native if not torch.cuda.is_available() else None
        return spconv.SubMConv3d(in_channels, out_channels, 3, bias=True,
                                 indice_key=indice_key, algo=algo)
    raise ValueError(f"sparse_backend must be one of {BACKENDS}, got {backend!r}")


def spconv_tensor(feats: torch.Tensor, coords: torch.Tensor) -> Any:
    """One-batch spconv SparseConvTensor over integer voxel coords (V, 3)."""
    spconv = import_spconv()
    indices = torch.cat([coords.new_zeros(coords.shape[0], 1), coords], dim=1).int()
    shape = (coords.max(dim=0).values + 1).tolist()
    return spconv.SparseConvTensor(feats, indices.contiguous(), shape, 1)
