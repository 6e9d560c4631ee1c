"""Placed objects and the geometric tests that keep them apart.

World frame = robot base frame: x forward (away from the robot), y to the robot's left,
z up, floor at z = 0. "Left", "in front of" and so on in the queries are meant from the
robot's point of view in this frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from query3d.data.sample import ObjectBox
from query3d.training.data.synthetic.catalogue import SEMANTIC_ID
from query3d.training.data.synthetic.parts import ObjectModel, Part, rot_z
from query3d.training.data.synthetic.render import RenderItem


@dataclass
class PlacedObject:
    object_id: int
    model: ObjectModel
    rotation: np.ndarray
    translation: np.ndarray
    yaw: float
    support: int | None = None  # object id it stands on; None = the floor
    leaning_on: int | None = None

    @property
    def category(self) -> str:
        return self.model.category

    def world_corners(self) -> np.ndarray:
        lo, hi = self.model.local_bounds()
        local = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                          for z in (lo[2], hi[2])])
        return local @ self.rotation.T + self.translation

    def box(self) -> ObjectBox:
        """Tightest box in the object's yaw frame around its local bounding box."""
        in_yaw = self.world_corners() @ rot_z(self.yaw)
        lo, hi = in_yaw.min(axis=0), in_yaw.max(axis=0)
        center = rot_z(self.yaw) @ ((lo + hi) / 2)
        return ObjectBox(self.object_id, self.category, center, hi - lo, float(self.yaw),
                         self.model.color)

    def render_items(self) -> list[RenderItem]:
        sem = SEMANTIC_ID[self.category]
        return [RenderItem(p.solid.moved(self.rotation, self.translation), p.material,
                           self.object_id, sem, p.accent) for p in self.model.parts]

    def top_z(self) -> float:
        return float(self.world_corners()[:, 2].max())


@dataclass
class SceneLayout:
    kind: str
    objects: list[PlacedObject]
    background: list[tuple[Part, str]] = field(default_factory=list)  # (part, class)
    crop_lo: np.ndarray = field(default_factory=lambda: np.full(3, -np.inf))
    crop_hi: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    focus: np.ndarray = field(default_factory=lambda: np.zeros(3))  # where cameras look
    extent: float = 1.0  # radius of the interesting region around ``focus``

    def render_items(self) -> list[RenderItem]:
        items = [RenderItem(p.solid, p.material, -1, SEMANTIC_ID[cls], p.accent, shell=True)
                 for p, cls in self.background]
        for obj in self.objects:
            items.extend(obj.render_items())
        return items

    def by_id(self, object_id: int) -> PlacedObject:
        for obj in self.objects:
            if obj.object_id == object_id:
                return obj
        raise KeyError(object_id)


def footprint(box: ObjectBox) -> np.ndarray:
    """Four xy corners of a box's footprint."""
    hx, hy = box.size[0] / 2, box.size[1] / 2
    local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    return local @ np.array([[c, s], [-s, c]]) + box.center[:2]


def footprints_overlap(a: ObjectBox, b: ObjectBox, gap: float = 0.0) -> bool:
    """Separating-axis test of two oriented rectangles grown by ``gap``/2 each."""
    pa, pb = footprint(a), footprint(b)
    for poly in (pa, pb):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]]) / np.linalg.norm(edge)
            ra, rb = pa @ axis, pb @ axis
            if ra.max() + gap <= rb.min() or rb.max() + gap <= ra.min():
                return False
    return True


def boxes_collide(a: ObjectBox, b: ObjectBox, gap: float = 0.01) -> bool:
    """Boxes overlap in z (beyond 1 mm of touching) and their grown footprints overlap."""
    a_lo, a_hi = a.center[2] - a.size[2] / 2, a.center[2] + a.size[2] / 2
    b_lo, b_hi = b.center[2] - b.size[2] / 2, b.center[2] + b.size[2] / 2
    if a_hi <= b_lo + 1e-3 or b_hi <= a_lo + 1e-3:
        return False
    return footprints_overlap(a, b, gap)


def pose(yaw: float, position) -> tuple[np.ndarray, np.ndarray]:
    return rot_z(yaw), np.asarray(position, dtype=float)
