"""Spatial relations with three truth values, from the robot's point of view.

Each relation answers TRUE, FALSE or UNSURE. The band between the thresholds is where
people would disagree ("is the cup left of the laptop or behind it?"), so a query whose
meaning depends on an UNSURE pair is rejected as ambiguous instead of being labelled.
Thresholds are metres on a table and scale with ``SceneFacts.scale`` in a room.
"""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.layout import footprint, footprints_overlap
from query3d.training.data.synthetic.queries.facts import FactObject, SceneFacts

TRUE, FALSE, UNSURE = 1, 0, -1
DIRECTIONS = {"left": (1, 1.0), "right": (1, -1.0), "front": (0, -1.0), "behind": (0, 1.0)}
RELATIONS = (*DIRECTIONS, "on", "against", "next_to", "between")


def directional(name: str, a: FactObject, b: FactObject, scale: float) -> int:
    """``a`` is ``name`` of ``b``: the centre offset along the axis dominates the other."""
    axis, sign = DIRECTIONS[name]
    delta = a.box.center[:2] - b.box.center[:2]
    along, across = sign * delta[axis], abs(delta[1 - axis])
    if along >= 0.05 * scale and along >= 0.6 * across:
        return TRUE
    if along <= 0.02 * scale or along <= 0.35 * across:
        return FALSE
    return UNSURE


def footprint_gap(a: FactObject, b: FactObject) -> float:
    """Shortest xy distance between two footprints (0 if they overlap)."""
    if footprints_overlap(a.box, b.box):
        return 0.0
    pa, pb = footprint(a.box), footprint(b.box)
    best = np.inf
    for pts, poly in ((pa, pb), (pb, pa)):
        seg_a, seg_b = poly, np.roll(poly, -1, axis=0)
        edge = seg_b - seg_a
        rel = pts[:, None, :] - seg_a[None, :, :]
        lam = np.clip(np.sum(rel * edge, axis=2) / np.sum(edge * edge, axis=1), 0.0, 1.0)
        closest = seg_a[None] + lam[..., None] * edge[None]
        best = min(best, float(np.min(np.linalg.norm(pts[:, None, :] - closest, axis=2))))
    return best


def next_to(a: FactObject, b: FactObject, scale: float) -> int:
    if a.support == b.object_id or b.support == a.object_id:
        return FALSE  # stacked things are "on", not "next to"
    gap = footprint_gap(a, b)
    if gap <= 0.06 * scale:
        return TRUE
    if gap >= 0.12 * scale:
        return FALSE
    return UNSURE


def between(a: FactObject, b: FactObject, c: FactObject, scale: float) -> int:
    pa, pb, pc = a.box.center[:2], b.box.center[:2], c.box.center[:2]
    seg = pc - pb
    length = float(np.linalg.norm(seg))
    if length < 0.1 * scale:
        return UNSURE
    lam = float(np.dot(pa - pb, seg) / length**2)
    rel = pa - pb
    off = abs(float(seg[0] * rel[1] - seg[1] * rel[0])) / length
    if 0.2 <= lam <= 0.8 and off <= 0.25 * length:
        return TRUE
    if lam < 0.05 or lam > 0.95 or off > 0.4 * length:
        return FALSE
    return UNSURE


def relation_value(name: str, a: FactObject, anchors: list[FactObject],
                   facts: SceneFacts) -> int:
    if any(a.object_id == x.object_id for x in anchors):
        return FALSE
    if name in DIRECTIONS:
        return directional(name, a, anchors[0], facts.scale)
    if name == "on":
        return TRUE if a.support == anchors[0].object_id else FALSE
    if name == "against":
        return TRUE if a.leaning_on == anchors[0].object_id else FALSE
    if name == "next_to":
        return next_to(a, anchors[0], facts.scale)
    if name == "between":
        return between(a, anchors[0], anchors[1], facts.scale)
    raise ValueError(f"unknown relation {name!r}; known: {RELATIONS}")


def superlative_key(name: str, o: FactObject, facts: SceneFacts) -> tuple[float, float]:
    """Sort key (bigger wins) and the margin the winner needs over the runner-up."""
    if name == "largest":
        return np.log(o.volume), np.log(1.4)
    if name == "smallest":
        return -np.log(o.volume), np.log(1.4)
    dist = float(np.linalg.norm(o.box.center - facts.camera_position))
    if name == "nearest":
        return -dist, 0.06 * facts.scale
    if name == "farthest":
        return dist, 0.06 * facts.scale
    if name == "leftmost":
        return float(o.box.center[1]), 0.05 * facts.scale
    if name == "rightmost":
        return -float(o.box.center[1]), 0.05 * facts.scale
    raise ValueError(f"unknown superlative {name!r}")


SUPERLATIVES = ("largest", "smallest", "nearest", "farthest", "leftmost", "rightmost")
