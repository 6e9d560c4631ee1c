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
    # Fill contiguous component planes and return a (..., 3) view of them: writing
    # strided columns is twice as slow.
    out = np.empty((3, *points.shape[:-1]), dtype=np.result_type(points.dtype, np.float32))
    for j in range(3):
        np.multiply(x, c[0][j], out=out[j])
        out[j] += y * c[1][j]
        out[j] += z * c[2][j]
    return np.moveaxis(out, 0, -1)


def dot3(points: np.ndarray, v) -> np.ndarray:
    """``points @ v`` for points (..., 3) and a 3-vector."""
    a, b, c = (float(t) for t in v)
    return points[..., 0] * a + points[..., 1] * b + points[..., 2] * c
