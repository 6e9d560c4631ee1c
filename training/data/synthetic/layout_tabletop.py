"""Tabletop scenes: a table in front of the robot with 4-11 objects, some stacked on
boxes or books, some books leaning against boxes, none interpenetrating."""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.catalogue import CATEGORIES, build_object, categories_for
from query3d.training.data.synthetic.colors import fixed_material, material
from query3d.training.data.synthetic.layout import (
    PlacedObject,
    SceneLayout,
    boxes_collide,
    footprint,
    pose,
)
from query3d.training.data.synthetic.parts import ObjectModel, box, part, rot_z
from query3d.training.data.synthetic.shapes_furniture import table_parts

FACING_ROBOT = -np.pi / 2  # yaw that turns an object's front (-y) towards the robot (-x)
FACING = {"laptop", "monitor", "keyboard"}
AT_THE_BACK = {"monitor", "lamp", "plant"}
TRIES = 25


def _collides(candidate: PlacedObject, placed: list[PlacedObject], ignore: set[int]) -> bool:
    box_c = candidate.box()
    return any(boxes_collide(box_c, o.box()) for o in placed
               if o.object_id not in ignore)


def _on_table(model: ObjectModel, oid: int, table: PlacedObject, placed, rng):
    tb = table.box()
    top = table.top_z()
    half_x, half_y = tb.size[0] / 2 - 0.03, tb.size[1] / 2 - 0.03
    for _ in range(TRIES):
        yaw = (FACING_ROBOT + rng.normal(0, 0.3) if model.category in FACING
               else rng.uniform(-np.pi, np.pi))
        lo_x = 0.0 if model.category in AT_THE_BACK else -half_x
        offset = [rng.uniform(lo_x, half_x), rng.uniform(-half_y, half_y), 0.0]
        pos = tb.center + rot_z(tb.yaw) @ offset
        R, t = pose(yaw, [pos[0], pos[1], top])
        cand = PlacedObject(oid, model, R, t, yaw, support=table.object_id)
        corners = (footprint(cand.box()) - tb.center[:2]) @ rot_z(tb.yaw)[:2, :2]
        if np.any(np.abs(corners[:, 0]) > half_x + 0.02) or np.any(
                np.abs(corners[:, 1]) > half_y + 0.02):
            continue
        if not _collides(cand, placed, {table.object_id}):
            return cand
    return None


def _stacked(model: ObjectModel, oid: int, placed: list[PlacedObject], rng):
    supports = [o for o in placed if CATEGORIES[o.category].supports and o.category != "table"
                and o.leaning_on is None and o.rotation[2, 2] > 0.999]
    if not supports or not CATEGORIES[model.category].stackable:
        return None
    lo, hi = model.local_bounds()
    for _ in range(TRIES // 5):
        sup = supports[int(rng.integers(len(supports)))]
        sb = sup.box()
        yaw = sb.yaw + rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.12)
        ext = np.abs(rot_z(yaw - sb.yaw)[:2, :2]) @ (hi - lo)[:2]  # extent in support frame
        slack = sb.size[:2] - ext
        if np.any(slack < 0.005):
            continue
        offset = rot_z(sb.yaw)[:2, :2] @ (rng.uniform(-0.5, 0.5, 2) * slack)
        center_local = (lo + hi)[:2] / 2
        xy = sb.center[:2] + offset - rot_z(yaw)[:2, :2] @ center_local
        R, t = pose(yaw, [xy[0], xy[1], sup.top_z()])
        cand = PlacedObject(oid, model, R, t, yaw, support=sup.object_id)
        if not _collides(cand, placed, {sup.object_id}):
            return cand
    return None


def _leaning(model: ObjectModel, oid: int, table: PlacedObject, placed, rng):
    """A standing book tilted until it touches the side (or top edge) of a box."""
    boxes = [o for o in placed if o.category == "box" and o.support == table.object_id
             and o.box().size[2] > 0.08]
    if model.category != "book" or not boxes:
        return None
    lo, hi = model.local_bounds()
    length = hi[0] - lo[0]
    for _ in range(TRIES // 5):
        sup = boxes[int(rng.integers(len(boxes)))]
        sb = sup.box()
        side = int(rng.integers(4))
        normal = rot_z(sb.yaw + side * np.pi / 2) @ np.array([1.0, 0, 0])
        tangent = np.cross([0, 0, 1.0], normal)
        half_depth = sb.size[0] / 2 if side % 2 == 0 else sb.size[1] / 2
        half_face = sb.size[1] / 2 if side % 2 == 0 else sb.size[0] / 2
        phi = np.radians(rng.uniform(12, 28))
        h_box = sb.size[2]
        gap = length * np.sin(phi) if length * np.cos(phi) <= h_box else h_box * np.tan(phi)
        floor_z = table.top_z()
        pivot = (sb.center + normal * (half_depth + gap)
                 + tangent * rng.uniform(-0.5, 0.5) * max(half_face - 0.03, 0.0))
        pivot[2] = floor_z
        # Stand the book up (length -> up, thickness -> towards the box), then tilt it.
        stand = np.stack([[0, 0, 1.0], np.cross(-normal, [0, 0, 1.0]), -normal], axis=1)
        tilt = _rotation_about(np.cross([0, 0, 1.0], -normal), phi)
        R = tilt @ stand
        t = pivot - R @ np.array([lo[0], 0.0, hi[2]])
        yaw = float(np.arctan2(normal[1], normal[0]))
        cand = PlacedObject(oid, model, R, t, yaw, support=table.object_id,
                            leaning_on=sup.object_id)
        if cand.world_corners()[:, 2].min() < floor_z - 1e-6:
            continue
        if not _collides(cand, placed, {sup.object_id, table.object_id}):
            return cand
    return None


def _rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def room_background(rng, center_x: float, half_x: float, half_y: float) -> list:
    """Floor and walls around a region, as (part, class name) pairs."""
    floor_mat = fixed_material(tuple(int(c) for c in rng.integers(90, 170, 3)),
                               texture="speckle")
    wall_mat = material(str(rng.choice(["white", "white", "grey"])), rng)
    parts = [(part(box([center_x, 0, -0.01], [2 * half_x + 6, 2 * half_y + 6, 0.02]),
                   material=floor_mat), "floor")]
    parts.append((part(box([center_x + half_x + 0.05, 0, 1.3], [0.1, 2 * half_y, 2.6]),
                       material=wall_mat), "wall"))
    parts.append((part(box([center_x - half_x - 0.05, 0, 1.3], [0.1, 2 * half_y, 2.6]),
                       material=wall_mat), "wall"))
    for sign in (-1, 1):
        parts.append((part(box([center_x, sign * (half_y + 0.05), 1.3],
                               [2 * half_x, 0.1, 2.6]), material=wall_mat), "wall"))
    return parts


def tabletop_layout(rng: np.random.Generator, min_objects: int = 4,
                    max_objects: int = 11) -> SceneLayout:
    width, depth = rng.uniform(0.9, 1.6), rng.uniform(0.6, 0.9)
    height = rng.uniform(0.7, 0.78)
    cx = rng.uniform(0.35, 0.5) + depth / 2
    color = str(rng.choice(["brown", "brown", "white", "white", "grey", "black"]))
    table_model = ObjectModel("table", color, table_parts(rng, color, depth, width, height))
    table = PlacedObject(0, table_model, *pose(0.0, [cx, 0.0, 0.0]), yaw=0.0)
    placed = [table]
    cats = categories_for("tabletop")
    weights = np.array([c.weight for c in cats])
    drawn: list[str] = []
    for _ in range(int(rng.integers(min_objects, max_objects + 1))):
        if drawn and rng.random() < 0.3:
            drawn.append(str(rng.choice(drawn)))  # repeats make colour/relations matter
        else:
            drawn.append(cats[int(rng.choice(len(cats), p=weights / weights.sum()))].name)
    # Boxes, then books, then the rest: supports exist before things can lean or stack.
    drawn.sort(key=lambda c: {"box": 0, "book": 1}.get(c, 2))
    for category in drawn:
        model = build_object(category, rng)
        oid = len(placed)
        roll = rng.random()
        cand = None
        if category == "book" and roll < 0.6:
            cand = _leaning(model, oid, table, placed, rng)
        if cand is None and roll < 0.35:
            cand = _stacked(model, oid, placed, rng)
        cand = cand or _on_table(model, oid, table, placed, rng)
        if cand is not None:
            placed.append(cand)
    back_wall = cx + depth / 2 + rng.uniform(0.3, 1.5)
    half_y = width / 2 + rng.uniform(1.2, 2.0)  # room for the side cameras
    background = room_background(rng, (back_wall - 1.0) / 2, (back_wall + 1.0) / 2, half_y)
    m = 0.02
    return SceneLayout(
        "tabletop", placed, background,
        crop_lo=np.array([cx - depth / 2 - m, -width / 2 - m, height - 0.03]),
        crop_hi=np.array([cx + depth / 2 + m, width / 2 + m, height + 0.9]),
        focus=np.array([cx, 0.0, height]), extent=max(width, depth) / 2)
