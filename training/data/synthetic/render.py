"""Ray-cast z-buffer: which surface, at what depth and with what normal, every pixel sees.

Each solid is only tested against the pixel rectangle its bounding box projects to, so a
tabletop frame costs a few full-image passes for the table and walls plus small patches
for the objects. The nearest hit wins per pixel, which makes occlusion exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from query3d.training.data.synthetic.colors import Material
from query3d.training.data.synthetic.primitives import Solid


@dataclass(frozen=True)
class RenderItem:
    """A solid in world coordinates with its material and labels (-1: background).

    ``shell`` marks the room's floor and walls: everything else is inside them, so from
    a viewpoint inside the room they can only show where nothing else was hit.
    """

    solid: Solid
    material: Material
    instance: int
    semantic: int
    accent: bool = False
    shell: bool = False


@dataclass
class HitBuffers:
    """Per-pixel first hits: ``t`` (inf where nothing), unit ``normal``, ``item`` (-1)."""

    t: np.ndarray
    normal: np.ndarray
    item: np.ndarray
    height: int
    width: int

    def image(self, flat: np.ndarray) -> np.ndarray:
        return flat.reshape(self.height, self.width, *flat.shape[1:])


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                     for z in (lo[2], hi[2])])


def cast(grid, items: list[RenderItem], with_normals: bool = True) -> HitBuffers:
    """First hit of every ray of ``grid`` (a PinholeCamera or OrthoGrid) against ``items``.

    Items are drawn roughly front to back; a pixel is re-tested for an item only while
    its current depth is beyond the item's nearest possible depth, and shell items only
    where nothing else was hit. Normals are computed only for the pixels an item wins,
    not for every tested ray.
    """
    n = grid.width * grid.height
    t = np.full(n, np.inf, dtype=np.float32)  # the kernels work in float32
    item = np.full(n, -1, dtype=np.int32)
    normal = np.zeros((n, 3))
    todo = []
    for k, it in enumerate(items):
        lo, hi = it.solid.bounds()
        if np.any(lo > hi):
            continue
        corners = _corners(lo, hi)
        rect = grid.pixel_rect(corners)
        if rect is not None:
            todo.append((it.shell, float(grid.depth_of(corners).min()), k, rect))
    free = None
    for shell, near, k, (u0, u1, v0, v1) in sorted(todo):
        if shell and free is None:
            free = np.zeros(n, bool)
            free[item < 0] = True
        idx = (np.arange(v0, v1)[:, None] * grid.width + np.arange(u0, u1)[None, :]).ravel()
        idx = idx[free[idx]] if shell else idx[t[idx] > near]
        if len(idx) == 0:
            continue
        o, d = grid.ray_components(idx)
        t_hit = items[k].solid.intersect(o, d)
        closer = t_hit < t[idx]
        sel = idx[closer]
        t[sel] = t_hit[closer]
        item[sel] = k
        if with_normals and len(sel):
            # Front-to-back order makes later overwrites rare, so normals of the
            # current winners are rarely wasted.
            origins, dirs = grid.rays(sel)
            hit_t = t[sel].astype(np.float64)[:, None]
            normal[sel] = items[k].solid.normal_at(origins + hit_t * dirs)
    return HitBuffers(t, normal, item, grid.height, grid.width)


def shadow_lookup(shadow_grid, shadow_hits: HitBuffers, points: np.ndarray,
                  bias: float = 0.01) -> np.ndarray:
    """Fraction (0..1) of key light reaching each world point: 2x2 percentage-closer
    filtering of the shadow map, which softens the edges like an area light."""
    u, v, depth = shadow_grid.to_grid(points)
    size = shadow_grid.size
    t_map = shadow_hits.t.reshape(size, size).astype(np.float32)
    u0 = np.clip(np.floor(u).astype(np.int64), 0, size - 2)
    v0 = np.clip(np.floor(v).astype(np.int64), 0, size - 2)
    depth = (depth - bias).astype(np.float32)
    lit = np.zeros(len(points), dtype=np.float32)
    for du in (0, 1):
        for dv in (0, 1):
            lit += depth <= t_map[v0 + dv, u0 + du]
    return lit * np.float32(0.25)
