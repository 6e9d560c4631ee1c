"""Analytic solids and vectorized ray intersection: the geometry the renderer draws.

Every object is a union of ``Solid``s; a solid is the intersection of a few convex
``Primitive``s (unit box, cylinder/cone frustum or sphere under an affine map) minus at
most one convex primitive. That is enough for hollow mugs, cups and bowls, mug handles
and lamp shades, and keeps every ray test closed-form: a convex primitive gives one
entry/exit interval per ray, and interval algebra does the CSG. Rays are numpy arrays,
never Python loops, so one call intersects a whole pixel rectangle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from query3d.training.data.synthetic.linalg3 import mat3

SHAPES = ("box", "cone", "sphere")
_UNIT_CORNERS = np.array(
    [[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)]
)


@dataclass(frozen=True)
class Primitive:
    """A unit shape under ``p = center + rotation @ (half_size * q)``.

    ``box`` is q in [-1, 1]^3; ``cone`` is a frustum with radius 1 at q_z = -1 and
    ``taper`` at q_z = +1 (``taper=1`` is a cylinder); ``sphere`` is |q| <= 1.
    """

    shape: str
    center: np.ndarray
    half_size: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    taper: float = 1.0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"primitive shape must be one of {SHAPES}, got {self.shape!r}")
        if np.any(np.asarray(self.half_size) <= 0):
            raise ValueError(f"primitive half_size must be positive, got {self.half_size}")
        if self.taper < 0:
            raise ValueError(f"cone taper must be >= 0, got {self.taper}")

    def moved(self, rotation: np.ndarray, translation: np.ndarray) -> Primitive:
        """The same primitive after a rigid motion (object pose applied to a part)."""
        return Primitive(
            self.shape,
            rotation @ self.center + translation,
            self.half_size,
            rotation @ self.rotation,
            self.taper,
        )

    def corners(self) -> np.ndarray:
        """Eight world corners of a box that encloses the primitive."""
        scale = np.asarray(self.half_size, dtype=float).copy()
        if self.shape == "cone":
            scale[:2] *= max(1.0, self.taper)
        return self.center + (_UNIT_CORNERS * scale) @ self.rotation.T

    def to_local(self, points: np.ndarray) -> np.ndarray:
        return mat3(points - self.center, self.rotation / self.half_size)

    def contains(self, points: np.ndarray) -> np.ndarray:
        q = self.to_local(points)
        if self.shape == "box":
            return np.all(np.abs(q) <= 1.0, axis=-1)
        if self.shape == "sphere":
            return np.sum(q * q, axis=-1) <= 1.0
        radius = 1.0 + (self.taper - 1.0) * (q[..., 2] + 1.0) / 2.0
        return (np.abs(q[..., 2]) <= 1.0) & (q[..., 0] ** 2 + q[..., 1] ** 2 <= radius**2)

    def interval(self, o: tuple, d: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Entry and exit parameters of rays ``o + t d`` given as component tuples
        (structure of arrays, float32); entry is ``inf`` where the ray misses."""
        m = (self.rotation / self.half_size).tolist()  # world -> local, column-scaled
        c = self.center.tolist()
        rel = [o[i] - c[i] for i in range(3)]
        lo = tuple(_combine(rel, m, j) for j in range(3))
        # A zero slope (ray parallel to a face) divides to +-inf, which the interval
        # logic handles; callers silence the divide warnings.
        ld = tuple(_combine(d, m, j) for j in range(3))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t_in, t_out = _LOCAL_TESTS[self.shape](self, lo, ld)
        return np.where(t_in <= t_out, t_in, np.inf), t_out

    def surface_distance(self, points: np.ndarray) -> np.ndarray:
        """Approximate distance (metres) from points to this primitive's surface."""
        q = self.to_local(points)
        h = self.half_size
        if self.shape == "box":
            return np.min(np.abs(1.0 - np.abs(q)) * h, axis=1)
        if self.shape == "sphere":
            return np.abs(1.0 - np.linalg.norm(q, axis=1)) * h.min()
        radius = 1.0 + (self.taper - 1.0) * (q[:, 2] + 1.0) / 2.0
        side = np.abs(radius - np.hypot(q[:, 0], q[:, 1])) * h[:2].min()
        return np.minimum(np.abs(1.0 - np.abs(q[:, 2])) * h[2], side)

    def normal_at(self, points: np.ndarray) -> np.ndarray:
        """Outward unit normal of the surface nearest to each (on-surface) point."""
        q = self.to_local(points)
        qx, qy, qz = q[:, 0], q[:, 1], q[:, 2]
        h = self.half_size
        if self.shape == "box":
            ex, ey, ez = ((np.abs(q[:, i]) - 1.0) * h[i] for i in range(3))
            on_x = (ex >= ey) & (ex >= ez)
            on_y = ~on_x & (ey >= ez)
            on_z = ~on_x & ~on_y
            n = np.stack([on_x * np.sign(qx), on_y * np.sign(qy), on_z * np.sign(qz)], 1)
        elif self.shape == "sphere":
            n = q
        else:
            a0, b0 = (1.0 + self.taper) / 2.0, (self.taper - 1.0) / 2.0
            radius = a0 + b0 * qz
            on_cap = (np.abs(1.0 - np.abs(qz)) * h[2]
                      < np.abs(radius - np.hypot(qx, qy)) * h[:2].min())
            n = np.stack([np.where(on_cap, 0.0, qx), np.where(on_cap, 0.0, qy),
                          np.where(on_cap, np.sign(qz), -radius * b0)], 1)
        # Gradients transform with the inverse transpose of the affine map.
        n = mat3(n / h, self.rotation.T)
        return n / np.maximum(np.sqrt(np.einsum("ij,ij->i", n, n)), 1e-12)[:, None]


def _combine(v: list, m: list, j: int):
    """Component j of v @ m, skipping zero coefficients (axis-aligned parts are common)."""
    out = None
    for i in range(3):
        if m[i][j] != 0.0:
            term = v[i] * m[i][j]
            out = term if out is None else out + term
    return 0.0 * v[0] if out is None else out


def _box(_prim: Primitive, o: tuple, d: tuple):
    lo = hi = None
    for i in range(3):
        inv = 1.0 / d[i]
        t1 = (-1.0 - o[i]) * inv
        t2 = (1.0 - o[i]) * inv
        a, b = np.minimum(t1, t2), np.maximum(t1, t2)
        lo = a if lo is None else np.maximum(lo, a)
        hi = b if hi is None else np.minimum(hi, b)
    return lo, hi


def _sphere(_prim: Primitive, o: tuple, d: tuple):
    a = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    b = o[0] * d[0] + o[1] * d[1] + o[2] * d[2]
    c = o[0] * o[0] + o[1] * o[1] + o[2] * o[2] - 1.0
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    hit = disc >= 0
    return np.where(hit, (-b - root) / a, np.inf), np.where(hit, (-b + root) / a, -np.inf)


def _cone(prim: Primitive, o: tuple, d: tuple):
    """Frustum: x^2 + y^2 <= (a + b z)^2 inside the slab |z| <= 1 (one nappe only)."""
    a0 = (1.0 + prim.taper) / 2.0
    b0 = (prim.taper - 1.0) / 2.0
    inv = 1.0 / d[2]
    tz1, tz2 = (-1.0 - o[2]) * inv, (1.0 - o[2]) * inv
    s0, s1 = np.minimum(tz1, tz2), np.maximum(tz1, tz2)
    ro = a0 + b0 * o[2]
    A = d[0] * d[0] + d[1] * d[1] - (b0 * d[2]) ** 2
    B = o[0] * d[0] + o[1] * d[1] - b0 * d[2] * ro
    C = o[0] * o[0] + o[1] * o[1] - ro * ro
    A = np.where(np.abs(A) < 1e-12, np.float32(1e-12), A)
    disc = B * B - A * C
    root = np.sqrt(np.maximum(disc, 0.0))
    r1, r2 = (-B - root) / A, (-B + root) / A
    q_lo, q_hi = np.minimum(r1, r2), np.maximum(r1, r2)
    has = disc >= 0
    lo_a = np.where(has, np.maximum(s0, q_lo), np.inf)
    hi_a = np.where(has, np.minimum(s1, q_hi), -np.inf)
    if b0 == 0.0:  # a cylinder: A >= 0, the interior lies between the roots
        return lo_a, hi_a
    # A < 0: inside lies outside the roots; within the slab only one nappe exists, so
    # at most one of the two outer pieces meets the slab.
    left_ok = s0 <= q_lo
    lo_b = np.where(has, np.where(left_ok, s0, np.maximum(s0, q_hi)), s0)
    hi_b = np.where(has, np.where(left_ok, np.minimum(s1, q_lo), s1), s1)
    opens_up = A > 0
    return np.where(opens_up, lo_a, lo_b), np.where(opens_up, hi_a, hi_b)


_LOCAL_TESTS = {"box": _box, "sphere": _sphere, "cone": _cone}


def as_components(origins: np.ndarray, dirs: np.ndarray) -> tuple[tuple, tuple]:
    """(M, 3) or (1, 3) origins and (M, 3) directions -> float32 component tuples."""
    origins = np.asarray(origins, dtype=np.float64)
    if origins.ndim == 1 or len(origins) == 1:
        o = tuple(float(v) for v in origins.reshape(3))
    else:
        o = tuple(np.ascontiguousarray(origins[:, i], dtype=np.float32) for i in range(3))
    d = tuple(np.ascontiguousarray(dirs[:, i], dtype=np.float32) for i in range(3))
    return o, d


@dataclass(frozen=True)
class Solid:
    """Intersection of convex ``parts`` minus the convex ``minus`` (a hollow, a hole)."""

    parts: tuple[Primitive, ...]
    minus: Primitive | None = None

    def moved(self, rotation: np.ndarray, translation: np.ndarray) -> Solid:
        minus = None if self.minus is None else self.minus.moved(rotation, translation)
        return Solid(tuple(p.moved(rotation, translation) for p in self.parts), minus)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """World axis-aligned bounds (intersection of the parts' bounds)."""
        return self._bounds

    @cached_property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.max([p.corners().min(axis=0) for p in self.parts], axis=0)
        hi = np.min([p.corners().max(axis=0) for p in self.parts], axis=0)
        return lo, hi

    def contains(self, points: np.ndarray) -> np.ndarray:
        inside = np.all([p.contains(points) for p in self.parts], axis=0)
        if self.minus is not None:
            inside &= ~self.minus.contains(points)
        return inside

    def intersect(self, o: tuple, d: tuple, t_min: float = 1e-6) -> np.ndarray:
        """First hit ``t`` of rays given as component tuples (inf where missed)."""
        a0, a1 = self.parts[0].interval(o, d)
        for p in self.parts[1:]:
            b0, b1 = p.interval(o, d)
            a0, a1 = np.maximum(a0, b0), np.minimum(a1, b1)
        a0 = np.where((a0 <= a1) & (a1 > t_min), np.maximum(a0, t_min), np.inf)
        if self.minus is None:
            return a0
        b0, b1 = self.minus.interval(o, d)
        carved = (a0 >= b0) & (a0 <= b1)
        # Entering A inside the hole: the visible surface is the hole's far wall, if it
        # is still inside A.
        return np.where(carved, np.where(b1 < a1, b1, np.inf), a0)

    def normal_at(self, points: np.ndarray) -> np.ndarray:
        """Outward normals at surface points: of the nearest primitive surface (flipped
        for the carved hole, whose walls face into it)."""
        prims = list(self.parts) + ([self.minus] if self.minus is not None else [])
        if len(prims) == 1:
            return prims[0].normal_at(points)
        dist = np.stack([p.surface_distance(points) for p in prims])
        owner = np.argmin(dist, axis=0)
        normals = np.zeros_like(points)
        for k, p in enumerate(prims):
            sel = owner == k
            if np.any(sel):
                n = p.normal_at(points[sel])
                normals[sel] = -n if p is self.minus else n
        return normals
