"""Room scenes: furniture against walls and around tables, small objects on the tables
and cabinets, a few things on the floor; the robot stands at the origin facing +x."""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.catalogue import build_object
from query3d.training.data.synthetic.layout import (
    PlacedObject,
    SceneLayout,
    boxes_collide,
    footprint,
    pose,
)
from query3d.training.data.synthetic.layout_tabletop import _on_table, room_background

TRIES = 30
ROBOT_CLEARANCE = 0.8  # nothing closer than this in x: the head camera must see the room


def _yaw_facing(direction: np.ndarray) -> float:
    """Yaw that turns an object's front (-y) towards ``direction`` (xy)."""
    return float(np.arctan2(direction[0], -direction[1]))


class _Room:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.x_far = rng.uniform(3.5, 5.5)
        self.half_y = rng.uniform(1.7, 2.6)
        self.placed: list[PlacedObject] = []

    def inside(self, obj: PlacedObject) -> bool:
        fp = footprint(obj.box())
        return bool(np.all(fp[:, 0] >= ROBOT_CLEARANCE) and np.all(fp[:, 0] <= self.x_far)
                    and np.all(np.abs(fp[:, 1]) <= self.half_y))

    def free(self, obj: PlacedObject) -> bool:
        box = obj.box()
        return self.inside(obj) and not any(boxes_collide(box, o.box(), gap=0.05)
                                            for o in self.placed)

    def add(self, category: str, where: str, **kw) -> PlacedObject | None:
        model = build_object(category, self.rng, room_scale=True)
        oid = len(self.placed)
        lo, hi = model.local_bounds()
        for _ in range(TRIES):
            if where == "wall":
                yaw, xy = self._against_wall(hi[1] - lo[1])
            elif where == "table_side":
                yaw, xy = self._beside(kw["table"], hi[1] - lo[1])
            else:
                yaw = self.rng.uniform(-np.pi, np.pi)
                xy = [self.rng.uniform(ROBOT_CLEARANCE + 0.3, self.x_far - 0.3),
                      self.rng.uniform(-self.half_y + 0.3, self.half_y - 0.3)]
            cand = PlacedObject(oid, model, *pose(yaw, [xy[0], xy[1], 0.0]), yaw=yaw)
            if self.free(cand):
                self.placed.append(cand)
                return cand
        return None

    def _against_wall(self, depth: float):
        rng = self.rng
        wall = int(rng.integers(3))
        if wall == 0:  # far wall
            inward = np.array([-1.0, 0.0])
            xy = [self.x_far - depth / 2 - 0.02, rng.uniform(-self.half_y, self.half_y)]
        else:
            sign = 1.0 if wall == 1 else -1.0
            inward = np.array([0.0, -sign])
            xy = [rng.uniform(ROBOT_CLEARANCE + 0.5, self.x_far),
                  sign * (self.half_y - depth / 2 - 0.02)]
        return _yaw_facing(inward), xy

    def _beside(self, table: PlacedObject, depth: float):
        tb = table.box()
        side = int(self.rng.integers(4))
        out = np.array([np.cos(tb.yaw + side * np.pi / 2), np.sin(tb.yaw + side * np.pi / 2)])
        half = tb.size[0] / 2 if side % 2 == 0 else tb.size[1] / 2
        along = np.array([-out[1], out[0]]) * self.rng.uniform(-0.3, 0.3)
        xy = tb.center[:2] + out * (half + depth / 2 + self.rng.uniform(0.02, 0.2)) + along
        return _yaw_facing(-out), xy


def room_layout(rng: np.random.Generator) -> SceneLayout:
    room = _Room(rng)
    tables = [t for t in (room.add("table", "free") for _ in range(int(rng.integers(1, 3))))
              if t is not None]
    for table in tables:
        for _ in range(int(rng.integers(1, 4))):
            room.add("chair", "table_side", table=table)
    counts = {"sofa": rng.random() < 0.6, "cabinet": int(rng.integers(0, 3)),
              "trash can": rng.random() < 0.6, "plant": int(rng.integers(0, 3)),
              "lamp": rng.random() < 0.5}
    for category, count in counts.items():
        for _ in range(int(count)):
            room.add(category, "wall" if category in ("sofa", "cabinet") else "free")
    for _ in range(int(rng.integers(0, 4))):
        room.add(str(rng.choice(["box", "box", "ball"])), "free")
    if rng.random() < 0.4:
        room.add("chair", "free")
    surfaces = [o for o in room.placed if o.category in ("table", "cabinet")]
    small = ["mug", "cup", "bottle", "book", "laptop", "bowl", "can", "plant", "lamp",
             "box", "keyboard", "monitor", "apple", "vase", "phone"]
    for support in surfaces:
        n = int(rng.integers(1, 5)) if support.category == "table" else int(rng.integers(0, 3))
        for _ in range(n):
            model = build_object(str(rng.choice(small)), rng)
            cand = _on_table(model, len(room.placed), support, room.placed, rng)
            if cand is not None:
                room.placed.append(cand)
    x_mid = (room.x_far - 1.0) / 2
    background = room_background(rng, x_mid, (room.x_far + 1.0) / 2, room.half_y)
    return SceneLayout(
        "room", room.placed, background,
        crop_lo=np.array([-1.0, -room.half_y, -0.05]),
        crop_hi=np.array([room.x_far, room.half_y, 2.5]),
        focus=np.array([(ROBOT_CLEARANCE + room.x_far) / 2, 0.0, 0.5]),
        extent=max(room.x_far - ROBOT_CLEARANCE, 2 * room.half_y) / 2)
