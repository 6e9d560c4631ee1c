"""Farthest point sampling for the detection seeds (HCF-RES III-D).

The start point is the one farthest from the cloud's bounding-box centre rather than
index 0, so the chosen set of points does not depend on the input order. CPU tensors run
a numpy loop (torch's per-op overhead dominates at these sizes: ~8x slower); accelerator
tensors stay on the device. Both are tested to pick the same points.
"""

from __future__ import annotations

import numpy as np
import torch


def _start_index(points: np.ndarray | torch.Tensor) -> int | torch.Tensor:
    centre = (points.min(0) + points.max(0)) / 2 if isinstance(points, np.ndarray) else \
        (points.min(dim=0).values + points.max(dim=0).values) / 2
    return ((points - centre) ** 2).sum(1).argmax()


def _fps_numpy(points: np.ndarray, count: int) -> np.ndarray:
    n = points.shape[0]
    columns = np.ascontiguousarray(points.T)
    nearest = np.full(n, np.inf, dtype=points.dtype)
    dist = np.empty(n, dtype=points.dtype)
    tmp = np.empty(n, dtype=points.dtype)
    chosen = np.empty(count, dtype=np.int64)
    current = int(_start_index(points))
    for i in range(count):
        chosen[i] = current
        p = points[current]
        np.subtract(columns[0], p[0], out=dist)
        dist *= dist
        for axis in (1, 2):
            np.subtract(columns[axis], p[axis], out=tmp)
            tmp *= tmp
            dist += tmp
        np.minimum(nearest, dist, out=nearest)
        current = int(nearest.argmax())
    return chosen


def _fps_torch(points: torch.Tensor, count: int) -> torch.Tensor:
    n = points.shape[0]
    chosen = torch.empty(count, dtype=torch.int64, device=points.device)
    nearest = torch.full((n,), float("inf"), device=points.device)
    current = _start_index(points)
    for i in range(count):
        chosen[i] = current
        diff = points - points[current]
        nearest = torch.minimum(nearest, (diff * diff).sum(dim=1))
        current = torch.argmax(nearest)
    return chosen


def farthest_point_sampling(xyz: torch.Tensor, count: int, backend: str = "auto"
                            ) -> torch.Tensor:
    """(min(count, N),) int64 indices of spatially spread points, on ``xyz``'s device.

    backend: "auto" (numpy on CPU, torch elsewhere), "numpy" or "torch".
    """
    n = xyz.shape[0]
    if count < 1:
        raise ValueError(f"seed count must be >= 1, got {count}")
    if n == 0:
        raise ValueError("cannot sample seeds from 0 points")
    if backend not in ("auto", "numpy", "torch"):
        raise ValueError(f"fps backend must be auto, numpy or torch, got {backend!r}")
    count = min(count, n)
    if backend == "auto":
        backend = "numpy" if xyz.device.type == "cpu" else "torch"
    if backend == "torch":
        return _fps_torch(xyz.detach().float(), count)
    chosen = _fps_numpy(xyz.detach().cpu().float().numpy(), count)
    return torch.from_numpy(chosen).to(xyz.device)
