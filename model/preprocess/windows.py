"""Window partitions of the finest voxels for (shifted-)window attention.

Voxels are serialized by window id and then raster order inside the window; every window
is split into ceil(count / P) groups of at most P voxels (padded), so attention never
crosses a window border and the graph sees one dense (G, P) index tensor (PTv3-style
grouping, Swin-style windows). ``inverse`` maps each voxel to its flat slot, so the
graph returns to voxel order with a gather instead of a scatter.
"""

from __future__ import annotations

import torch

from .voxels import linear_keys


def window_groups(coords: torch.Tensor, window: int, group_size: int,
                  shift: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``groups`` (G, P) int64 padded with V and ``inverse`` (V,) int64 flat slots.

    ``shift`` moves the window grid by that many voxels (``window // 2`` for the shifted
    partition), so the two partitions' borders differ.
    """
    if window < 1 or group_size < 1:
        raise ValueError(f"window ({window}) and group size ({group_size}) must be >= 1")
    v = coords.shape[0]
    device = coords.device
    moved = coords + shift
    window_coords = torch.div(moved, window, rounding_mode="floor")
    local = moved - window_coords * window
    window_extent = window_coords.max(dim=0).values + 1
    window_key = linear_keys(window_coords, window_extent)
    local_key = linear_keys(local, torch.full((3,), window, device=device))
    order = torch.argsort(window_key * window**3 + local_key)
    sorted_window = window_key[order]
    _, counts = torch.unique_consecutive(sorted_window, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    window_index = torch.repeat_interleave(torch.arange(counts.shape[0], device=device), counts)
    rank = torch.arange(v, device=device) - starts[window_index]
    groups_per_window = torch.div(counts + group_size - 1, group_size, rounding_mode="floor")
    first_group = torch.cumsum(groups_per_window, 0) - groups_per_window
    group = first_group[window_index] + torch.div(rank, group_size, rounding_mode="floor")
    slot = rank % group_size
    num_groups = int(groups_per_window.sum())
    groups = torch.full((num_groups, group_size), v, dtype=torch.int64, device=device)
    groups[group, slot] = order
    inverse = torch.empty(v, dtype=torch.int64, device=device)
    inverse[order] = group * group_size + slot
    return groups, inverse
