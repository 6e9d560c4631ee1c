"""3D IoU of boxes that may turn about z, and matching of predicted to true boxes.

Robots see objects at any heading, so axis-aligned IoU would punish a correct box that
is merely rotated. The overlap is exact: the bird's-eye intersection of the two rotated
rectangles (shapely's polygon clipping) times the overlap of their height intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from shapely.geometry import Polygon


@dataclass(frozen=True)
class Box3D:
    """An oriented box: centre, full extent (dx, dy, dz) and yaw about +z in radians."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0

    @staticmethod
    def of(center: Sequence[float], size: Sequence[float], yaw: float = 0.0) -> Box3D:
        c = tuple(float(v) for v in np.asarray(center, dtype=np.float64).reshape(-1))
        s = tuple(float(v) for v in np.asarray(size, dtype=np.float64).reshape(-1))
        if len(c) != 3 or len(s) != 3:
            raise ValueError(f"a box needs a 3-vector centre and size, got {c} and {s}")
        if not all(np.isfinite(c + s)) or not np.isfinite(yaw):
            raise ValueError(f"box has a non-finite centre, size or yaw: {c}, {s}, {yaw}")
        if min(s) < 0:
            raise ValueError(f"box size must be non-negative, got {s}")
        return Box3D(c, s, float(yaw))  # type: ignore[arg-type]

    @property
    def volume(self) -> float:
        return self.size[0] * self.size[1] * self.size[2]

    def bev_corners(self) -> np.ndarray:
        """(4, 2) corners of the footprint, counter-clockwise."""
        hx, hy = self.size[0] / 2.0, self.size[1] / 2.0
        local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + np.asarray(self.center[:2])


def _as_box(box: Box3D | Sequence) -> Box3D:
    if isinstance(box, Box3D):
        return box
    if len(box) == 3:
        return Box3D.of(box[0], box[1], float(box[2]))
    if len(box) == 7:  # cx cy cz dx dy dz yaw
        return Box3D.of(box[:3], box[3:6], float(box[6]))
    raise ValueError(f"cannot read a box from {box!r}: give Box3D, (center, size, yaw) "
                     "or a 7-vector cx,cy,cz,dx,dy,dz,yaw")


def box3d_iou(a: Box3D | Sequence, b: Box3D | Sequence) -> float:
    """Exact IoU of two boxes with yaw about z; 0 when both are empty."""
    a, b = _as_box(a), _as_box(b)
    z_lo = max(a.center[2] - a.size[2] / 2, b.center[2] - b.size[2] / 2)
    z_hi = min(a.center[2] + a.size[2] / 2, b.center[2] + b.size[2] / 2)
    height = max(0.0, z_hi - z_lo)
    area = 0.0
    if height > 0:
        area = Polygon(a.bev_corners()).intersection(Polygon(b.bev_corners())).area
    inter = area * height
    union = a.volume + b.volume - inter
    return float(inter / union) if union > 0 else 0.0


def box_iou_matrix(preds: Sequence, gts: Sequence) -> np.ndarray:
    """(P, G) IoU of every predicted box against every true box."""
    out = np.zeros((len(preds), len(gts)), dtype=np.float64)
    for i, p in enumerate(preds):
        for j, g in enumerate(gts):
            out[i, j] = box3d_iou(p, g)
    return out


def match_boxes(preds: Sequence, gts: Sequence) -> np.ndarray:
    """IoU of each true box with its predicted partner (0 if unmatched), one-to-one.

    Hungarian matching on IoU, as Multi3DRefer scores multi-target answers: a
    prediction may explain only one object, so duplicates do not inflate the score.
    """
    ious = np.zeros(len(gts), dtype=np.float64)
    if len(preds) == 0 or len(gts) == 0:
        return ious
    matrix = box_iou_matrix(preds, gts)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    ious[cols] = matrix[rows, cols]
    return ious
