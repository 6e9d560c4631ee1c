"""Queries generated on the real mOSD scans: only train scans, every target a labelled
object of the scan, and the words agree with the scan's geometry and written colours."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from query3d.data.sample import ObjectBox, Scene
from query3d.training.data.readers.mosd_generated import generated_records, scan_facts
from query3d.training.data.readers.osd_refer import MOSD_OBJECTS, MOSD_QUERIES
from query3d.training.data.synthetic.catalogue import CLASS_NAMES, category
from query3d.training.data.synthetic.queries.program import Descriptor, denote


def _stack() -> Scene:
    """A tin on a box, a mug beside it: points per object, boxes as a reader gives."""
    boxes = [ObjectBox(2, "object", np.array([0.6, 0.0, 0.1]), np.array([0.2, 0.2, 0.2])),
             ObjectBox(3, "object", np.array([0.6, 0.0, 0.25]), np.array([0.08, 0.08, 0.1])),
             ObjectBox(4, "object", np.array([0.6, 0.4, 0.05]), np.array([0.08, 0.08, 0.1]))]
    instance = np.repeat([2, 3, 4], 100)
    points = np.concatenate([b.center + (np.random.default_rng(0).random((100, 3)) - 0.5)
                             * b.size for b in boxes])
    return Scene("stack", points, np.full((300, 3), 0.5), instance, objects=boxes)


def test_facts_from_a_scan_know_support_categories_and_colours() -> None:
    objects = {"2": {"category": "box", "colour": "red"},
               "3": {"category": "tin", "colour": "brown"},
               "4": {"category": "mug", "colour": "white"}}
    facts = scan_facts(_stack(), objects)
    assert facts is not None
    assert facts.get(3).support == 2 and facts.get(2).support is None
    assert facts.get(4).support is None  # beside, not on
    sure, _ = denote(Descriptor("tin", "brown"), facts)
    assert sure == {3}
    sure, _ = denote(Descriptor(function="store"), facts)  # boxes and tins store things
    assert sure == {2, 3}
    assert "tin" not in CLASS_NAMES and category("tin").plural == "tins"
    objects["4"]["category"] = "other"
    assert scan_facts(_stack(), objects) is None  # a superlative would miss it


def test_generated_queries_are_on_train_scans_and_name_their_objects() -> None:
    shared = Path(os.environ.get("QUERY3D_SHARED",
                                 Path(__file__).resolve().parents[3] / "shared"))
    root = shared / "data" / "mosd-learn"
    if not root.is_dir():
        pytest.skip(f"{root} is absent (project-internal data)")
    written = json.loads(MOSD_QUERIES.read_text())
    train = {r["scan"] for r in written if r["split"] == "train"}
    objects = json.loads(MOSD_OBJECTS.read_text())
    records = generated_records(root, "train", per_scan=12)
    assert records == generated_records(root, "train", per_scan=12)  # seeded
    assert {r["scan"] for r in records} <= train and len({r["scan"] for r in records}) >= 30
    assert len(records) >= 300
    assert {r["kind"] for r in records} >= {"referring", "relation", "size", "camera",
                                           "instruction", "multi", "zero"}
    for r in records:
        labelled = objects[r["scan"]]
        assert all(str(i) in labelled for i in r["object_ids"]), r
        n = len(r["object_ids"])
        assert (r["eval_type"], min(n, 2)) in {("zt", 0), ("st", 1), ("mt", 2)}, r
        words = r["description"].replace(",", " ").replace("?", " ").split()
        if r["kind"] == "referring" and n == 1:
            said = [c for c in ("red", "green", "yellow", "orange", "white", "brown")
                    if c in words]
            assert all(labelled[str(r["object_ids"][0])]["colour"] == c for c in said), r
