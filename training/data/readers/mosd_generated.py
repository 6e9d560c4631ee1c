"""Queries generated on real scans: the synthetic query sampler run on a scan's own
objects.

The written mOSD queries are few (497 on the 34 train scans), while the parts trained on
stored evidence (the slot scorer) need many real examples of every kind: colour as a
Kinect renders it, positions, relations, superlatives. Each train scan's objects are
known (their points, and the category and colour written in ``mosd_objects.json`` by
looking at the scan's picture), so the scan's facts are built from them and the same
sampler that labels synthetic scenes proposes, checks and words queries on the real
cloud: a query is kept only if its program denotes exactly its targets, unambiguously.

Support ("on") comes from the geometry: an object rests on another when its box's bottom
is within ``SUPPORT_GAP`` of the other's top and their footprints overlap. The sensor is
the levelled frame's camera. Scans with an object of unknown category are skipped (a
superlative over "the objects" would miss it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from query3d.data.sample import ObjectBox, Scene
from query3d.training.data.readers.osd_refer import MOSD_OBJECTS, MOSD_QUERIES
from query3d.training.data.synthetic.catalogue import is_query_category
from query3d.training.data.synthetic.layout import footprints_overlap
from query3d.training.data.synthetic.queries.facts import FactObject, SceneFacts
from query3d.training.data.synthetic.queries.sampler import sample_queries

SUPPORT_GAP = 0.03  # m between a box's bottom and the top of the one it stands on


def _support(box: ObjectBox, others: list[ObjectBox]) -> int | None:
    bottom = box.center[2] - box.size[2] / 2
    best, best_gap = None, SUPPORT_GAP
    for other in others:
        if other.object_id == box.object_id:
            continue
        gap = abs(bottom - (other.center[2] + other.size[2] / 2))
        if gap <= best_gap and footprints_overlap(box, other):
            best, best_gap = other.object_id, gap
    return best


def scan_facts(scene: Scene, objects: dict[str, dict]) -> SceneFacts | None:
    """The scan's facts from its labelled objects (``None`` if one has no known
    category)."""
    named = {int(k): v for k, v in objects.items()}
    if not all(is_query_category(v["category"]) for v in named.values()):
        return None
    counts = dict(zip(*np.unique(scene.instance, return_counts=True)))
    boxes = [ObjectBox(o.object_id, named[o.object_id]["category"], o.center, o.size, 0.0,
                       named[o.object_id]["colour"])
             for o in scene.objects if o.object_id in named]
    facts = [FactObject(b.object_id, b.category, b.color, b, _support(b, boxes), None,
                        int(counts.get(b.object_id, 0))) for b in boxes]
    camera = (np.asarray(scene.cameras[0].T_world_cam)[:3, 3] if scene.cameras
              else np.zeros(3))
    return SceneFacts(facts, camera, 1.0, "tabletop", {b.category for b in boxes})


def generated_records(root: str | Path, split: str, per_scan: int = 30, seed: int = 0,
                      written: str | Path = MOSD_QUERIES, objects: str | Path = MOSD_OBJECTS
                      ) -> list[dict]:
    """Records like ``mosd_queries.json``'s (``kind``, ``eval_type``, ``split``) for the
    scans of ``split`` (the scans the written queries put there), ``per_scan`` at most
    each, seeded per scan."""
    from query3d.training.data.readers.osd import read_osd

    written_records = json.loads(Path(written).read_text())
    scans = sorted({r["scan"] for r in written_records if r.get("split") == split},
                   key=lambda s: (len(s), s))
    if not scans:
        raise ValueError(f"{written}: no scans in split {split!r}")
    table = json.loads(Path(objects).read_text())
    out = []
    for number, scan in enumerate(scans):
        scene = read_osd(Path(root) / f"{scan}.pcd", level=True).scene
        facts = scan_facts(scene, table.get(scan, {}))
        if facts is None:
            continue
        rng = np.random.default_rng([seed, number])
        for r in sample_queries(facts, rng, scan, per_scan):
            out.append({"scan": scan, "description": r["description"],
                        "object_ids": r["object_ids"], "eval_type": r["eval_type"],
                        "kind": r["kind"], "split": split, "generated": True})
    return out
