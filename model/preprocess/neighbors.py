"""k nearest neighbours per point (the MeanPool neighbourhood of MR-COSMO Eq. 3).

CPU uses pykdtree (an OpenMP kd-tree; 2-2.5x scipy's cKDTree on the clouds here: 6000
points, k = 9 in 5-6 ms instead of 13-14 on 2 cores), tested against cKDTree;
accelerators use a chunked brute-force distance + top-k in torch, tested likewise.
"""

from __future__ import annotations

import numpy as np
import torch
from pykdtree.kdtree import KDTree


def kdtree_neighbors(points: np.ndarray, k: int, queries: np.ndarray | None = None
                     ) -> np.ndarray:
    """(M, k) int64 indices of the k nearest ``points`` of each query (the points
    themselves when ``queries`` is None, each then usually its own first neighbour),
    nearest first; ties between equal distances may order differently than cKDTree."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    queries = points if queries is None else np.ascontiguousarray(queries, dtype=np.float64)
    if k < 1 or k > len(points):
        raise ValueError(f"k must be in [1, {len(points)}] for {len(points)} points, got {k}")
    _, idx = KDTree(points).query(queries, k=k)
    return np.asarray(idx, dtype=np.int64).reshape(len(queries), k)


def drop_self(candidates: torch.Tensor, k: int) -> torch.Tensor:
    """Remove each row's own index from k + 1 candidates (or the farthest when the point
    itself was not returned, which happens with exact duplicates)."""
    n = candidates.shape[0]
    own = torch.arange(n, device=candidates.device).unsqueeze(1)
    if bool((candidates[:, 0:1] == own).all()):  # each point its own nearest: the usual case
        return candidates[:, 1:k + 1].contiguous()
    keep = candidates != own
    self_missing = keep.all(dim=1)
    keep[self_missing, -1] = False
    return candidates[keep].reshape(n, k)


def knn_indices(xyz: torch.Tensor, k: int, backend: str = "auto", chunk: int = 4096,
                locality: torch.Tensor | None = None) -> torch.Tensor:
    """(N, k) int64 indices of each point's k nearest other points, nearest first.

    Rows of a cloud with N <= k points are padded with N (the "missing" index).
    backend: "auto" (kd-tree on CPU, torch elsewhere), "kdtree" or "torch".
    ``locality`` (N,) is an optional spatial sort key (e.g. the fine voxel id): the tree is
    built and queried in that order, which keeps memory access local (~20-25% faster at
    100k points); the result is the same.
    """
    if k < 1:
        raise ValueError(f"knn k must be >= 1, got {k}")
    if backend not in ("auto", "kdtree", "torch"):
        raise ValueError(f"knn backend must be auto, kdtree or torch, got {backend!r}")
    n = xyz.shape[0]
    available = min(k, n - 1)
    if backend == "auto":
        backend = "kdtree" if xyz.device.type == "cpu" else "torch"
    if available < 1:
        found = torch.empty(n, 0, dtype=torch.int64, device=xyz.device)
    elif backend == "kdtree":
        points = xyz.detach().cpu().double().numpy()
        order = None
        if locality is not None:
            order = np.argsort(locality.detach().cpu().numpy(), kind="stable")
            points = points[order]
        idx = kdtree_neighbors(points, available + 1)
        if order is not None:  # back to input numbering and input row order
            unsorted = np.empty_like(idx)
            unsorted[order] = order[idx]
            idx = unsorted
        found = drop_self(torch.from_numpy(idx).to(xyz.device), available)
    else:
        found = _knn_torch(xyz, available, chunk)
    if available < k:
        pad = torch.full((n, k - available), n, dtype=torch.int64, device=xyz.device)
        found = torch.cat([found, pad], dim=1)
    return found


def _knn_torch(xyz: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    points = xyz.detach().float()
    rows = []
    for start in range(0, points.shape[0], chunk):
        block = points[start:start + chunk]
        dist = torch.cdist(block, points, compute_mode="donot_use_mm_for_euclid_dist")
        idx = dist.topk(k + 1, dim=1, largest=False, sorted=True).indices
        rows.append(idx)
    candidates = torch.cat(rows, dim=0)
    return drop_self(candidates, k)
