"""Products of many 3-vectors with one small matrix, without BLAS.

``(N, 3) @ (3, 3)`` goes through a threaded BLAS call that is several times slower than
three fused column expressions, and much slower still when other processes share the
cores; the renderer does these products on every pixel.
"""

from __future__ import annotations

import numpy as np


def mat3(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``points @ m`` for points (..., 3) and a (3, 3) matrix."""
    c = np.asarray(m, dtype=np.float64).tolist()
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    return np.stack([x * c[0][j] + y * c[1][j] + z * c[2][j] for j in range(3)], axis=-1)


def dot3(points: np.ndarray, v) -> np.ndarray:
    """``points @ v`` for points (..., 3) and a 3-vector."""
    a, b, c = (float(t) for t in v)
    return points[..., 0] * a + points[..., 1] * b + points[..., 2] * c
