"""Multi-scale voxelization and the submanifold kernel map, vectorized in torch.

Coarse grids are integer divisions of the finest grid, so every coarse voxel is exactly
a union of fine voxels (no float boundary disagreements between scales). Voxel order is
the sorted order of the linearized grid key, which depends only on coordinates: permuting
the input points permutes ``point2voxel`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# 3x3x3 offsets in the order spconv flattens its (out, k0, k1, k2, in) weight:
# kernel index k = 9 * k0 + 3 * k1 + k2 reads the neighbour at coords + (k0, k1, k2) - 1.
KERNEL_OFFSETS = torch.stack(torch.meshgrid(
    torch.arange(3), torch.arange(3), torch.arange(3), indexing="ij"), dim=-1).reshape(27, 3) - 1


# voxels per axis: three axes of 2**20 keep every linear key (and the kernel map's and
# window partition's keys built on it) far inside int64
MAX_GRID_CELLS = 1 << 20


@dataclass
class VoxelScale:
    coords: torch.Tensor  # (V, 3) int64
    center: torch.Tensor  # (V, 3) float32
    point2voxel: torch.Tensor  # (N,) int64
    members: torch.Tensor  # (V, M) int64, pad N


def linear_keys(coords: torch.Tensor, extent: torch.Tensor) -> torch.Tensor:
    """Row-major int64 key of non-negative coords inside ``extent`` (per-axis sizes)."""
    return (coords[:, 0] * extent[1] + coords[:, 1]) * extent[2] + coords[:, 2]


def point_hash(values: torch.Tensor) -> torch.Tensor:
    """A pseudo-random number in [0, 1) per row that depends only on the row's values,
    so subsampling by it is independent of the input order."""
    weights = torch.tensor([12.9898, 78.233, 37.719, 3.1731, 5.7421, 9.2173],
                           dtype=torch.float64, device=values.device)[: values.shape[1]]
    phase = (values.double() * 97.0) @ weights
    return torch.frac(torch.sin(phase) * 43758.5453).abs()


def voxel_members(point2voxel: torch.Tensor, num_voxels: int, cap: int,
                  order_key: torch.Tensor) -> torch.Tensor:
    """(V, cap) point indices per voxel, padded with N: the ``cap`` points with the smallest
    ``order_key`` (an order-independent pseudo-random subsample when a voxel is crowded)."""
    n = point2voxel.shape[0]
    order = torch.argsort(point2voxel * (1 << 31) + (order_key * (1 << 31)).long())
    voxel_sorted = point2voxel[order]
    counts = torch.bincount(voxel_sorted, minlength=num_voxels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n, device=point2voxel.device) - starts[voxel_sorted]
    keep = rank < cap
    members = torch.full((num_voxels, cap), n, dtype=torch.int64, device=point2voxel.device)
    members[voxel_sorted[keep], rank[keep]] = order[keep]
    return members


def _unique_rows(coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique non-negative integer rows in key order, and each input row's unique index."""
    extent = coords.max(dim=0).values + 1
    keys, inverse = torch.unique(linear_keys(coords, extent), sorted=True, return_inverse=True)
    unique = torch.stack([keys // (extent[1] * extent[2]), (keys // extent[2]) % extent[1],
                          keys % extent[2]], dim=1)
    return unique, inverse


def voxelize(xyz: torch.Tensor, rgb: torch.Tensor, voxel_size: float, scales: list[int],
             member_cap: int) -> list[VoxelScale]:
    """Voxelize a centred cloud at ``voxel_size * scale`` for every scale (finest first).

    Coarse scales are built from the fine voxels (V_0 rows, not N points)."""
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0, got {voxel_size}")
    if not scales or any(s < 1 for s in scales) or list(scales) != sorted(set(scales)):
        raise ValueError(f"voxel_scales must be increasing positive integers, got {scales}")
    if any(s % scales[0] for s in scales):
        raise ValueError(f"voxel_scales must be multiples of the first, got {scales}")
    low = xyz.double().min(dim=0).values
    fine_edge = voxel_size * scales[0]
    cells = (xyz.double() - low) / fine_edge
    span = float(cells.max()) if cells.numel() else 0.0
    if span >= MAX_GRID_CELLS:  # int64 grid keys would overflow into garbage indices
        raise ValueError(f"the cloud spans {span * fine_edge:.3g} m, more than {MAX_GRID_CELLS} "
                         f"voxels of {fine_edge} m along an axis; drop far points first (a "
                         "range filter: query3d.geometry.range_filter, the node's max_range)")
    fine_coords, fine_of_point = _unique_rows(torch.floor(cells).long())
    order_key = point_hash(torch.cat([xyz, rgb], dim=1))
    out = []
    for scale in scales:
        factor = scale // scales[0]
        coords, of_fine = _unique_rows(torch.div(fine_coords, factor, rounding_mode="floor"))
        point2voxel = of_fine[fine_of_point]
        center = (low + (coords.double() + 0.5) * (fine_edge * factor)).float()
        members = voxel_members(point2voxel, coords.shape[0], member_cap, order_key)
        out.append(VoxelScale(coords, center, point2voxel, members))
    return out


def submanifold_kernel_map(coords: torch.Tensor, dense_limit: int = 1 << 22) -> torch.Tensor:
    """(V, 27) index of the voxel at coords + offset_k (``KERNEL_OFFSETS``), pad V.

    Hashing is a dense lookup table when the grid's bounding box has at most
    ``dense_limit`` cells (tabletops), else sorted int64 keys + searchsorted (rooms);
    both vectorized, no Python loop over voxels.
    """
    v = coords.shape[0]
    extent = coords.max(dim=0).values + 3  # one voxel of margin on each side
    shifted = coords + 1
    keys = linear_keys(shifted, extent)
    offsets = KERNEL_OFFSETS.to(coords.device)
    neighbour_keys = linear_keys((shifted.unsqueeze(1) + offsets).reshape(-1, 3), extent)
    cells = int(torch.prod(extent))
    if cells <= dense_limit:
        table = torch.full((cells,), v, dtype=torch.int64, device=coords.device)
        table[keys] = torch.arange(v, device=coords.device)
        return table[neighbour_keys].reshape(v, 27)
    sorted_keys, sort_index = torch.sort(keys)
    pos = torch.searchsorted(sorted_keys, neighbour_keys).clamp(max=v - 1)
    found = sorted_keys[pos] == neighbour_keys
    kmap = torch.where(found, sort_index[pos], torch.full_like(pos, v))
    return kmap.reshape(v, 27)
