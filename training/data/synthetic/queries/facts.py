"""What a query may talk about: the objects of one scene, as words and boxes.

Geometry comes from the oriented boxes (the same ones written to objects.json), support
and leaning from the generator's scene graph, visibility from the fused cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from query3d.data.sample import ObjectBox

MIN_VISIBLE_POINTS = 40  # a target or anchor must have at least this many cloud points


@dataclass(frozen=True)
class FactObject:
    object_id: int
    category: str
    color: str
    box: ObjectBox
    support: int | None = None
    leaning_on: int | None = None
    num_points: int = 0

    @property
    def visible(self) -> bool:
        return self.num_points >= MIN_VISIBLE_POINTS

    @property
    def volume(self) -> float:
        return float(np.prod(self.box.size))


@dataclass
class SceneFacts:
    """``objects`` excludes things queries never mention (the table under a tabletop
    scene). ``scale`` stretches the spatial thresholds (1 on a table, 3 in a room)."""

    objects: list[FactObject]
    camera_position: np.ndarray
    scale: float = 1.0
    kind: str = "tabletop"
    all_categories: set[str] = field(default_factory=set)  # incl. unmentionable ones

    def __post_init__(self) -> None:
        ids = [o.object_id for o in self.objects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate object ids in scene facts: {ids}")
        self._by_id = {o.object_id: o for o in self.objects}

    def get(self, object_id: int) -> FactObject:
        if object_id not in self._by_id:
            raise KeyError(f"no object {object_id} among the query objects")
        return self._by_id[object_id]

    @property
    def visible(self) -> list[FactObject]:
        return [o for o in self.objects if o.visible]

    def to_json(self) -> dict:
        return {"camera_position": [float(v) for v in self.camera_position],
                "scale": self.scale, "kind": self.kind,
                "all_categories": sorted(self.all_categories)}


def facts_from_objects(records: list[dict], camera_position, kind: str) -> SceneFacts:
    """Facts from objects.json-style records (see ``io.object_record``)."""
    objs, cats = [], set()
    for r in records:
        cats.add(r["category"])
        if r.get("queryable", True):
            box = ObjectBox(int(r["object_id"]), r["category"], np.asarray(r["center"]),
                            np.asarray(r["size"]), float(r["yaw"]), r["color"])
            objs.append(FactObject(int(r["object_id"]), r["category"], r["color"], box,
                                   r.get("support"), r.get("leaning_on"),
                                   int(r.get("num_points", 0))))
    scale = 1.0 if kind == "tabletop" else 3.0
    return SceneFacts(objs, np.asarray(camera_position, float), scale, kind, cats)
