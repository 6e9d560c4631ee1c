"""Referring queries on the real OSD Kinect scans: the project's sim-to-real check.

The 20 queries in ``osd_queries.json`` were written by looking at the eight
``osd-learn`` scans; the 557 in ``mosd_queries.json`` by looking at all 45 mOSD learn
scans (every kind: colour, size, shape, position, relation, instruction, multi- and
zero-target), split by scan into ``train`` (34 scans) and ``val`` (11 scans). Ids are the
reader's instance ids, ``label // 10``. Scans are levelled into the z-up table frame with
image-left = +y, the synthetic benchmark's convention, so "left" and "nearest to the
camera" mean the same in both. ``mosd_objects.json`` names each object's category and
colour (for open-vocabulary labels).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from query3d.data.sample import Query, Sample, Scene
from query3d.model.runtime.density import network_subset
from query3d.training.data.augment import take_points
from query3d.training.data.readers.osd import read_osd

QUERIES = Path(__file__).with_name("osd_queries.json")
MOSD_QUERIES = Path(__file__).with_name("mosd_queries.json")
MOSD_OBJECTS = Path(__file__).with_name("mosd_objects.json")


class OSDReferDataset(Sequence[Sample]):
    """``Sample``s of the OSD scans under ``root`` with the bundled (or given) queries."""

    def __init__(self, root: str | Path, queries: str | Path | list[dict] = QUERIES,
                 max_points: int = 0, split: str | None = None) -> None:
        """``queries``: a JSON file of records, or the records."""
        self.root = Path(root)
        self.records = queries if isinstance(queries, list) else \
            json.loads(Path(queries).read_text())
        if split is not None:
            splits = sorted({r.get("split", "") for r in self.records})
            if split not in splits:
                raise ValueError(f"{queries}: no split {split!r} (has {', '.join(splits)})")
            self.records = [r for r in self.records if r.get("split") == split]
        missing = sorted({r["scan"] for r in self.records
                          if not (self.root / f"{r['scan']}.pcd").is_file()})
        if missing:
            raise ValueError(f"{self.root}: OSD scans {', '.join(missing)} are missing")
        self.max_points = max_points
        self._scenes: dict[str, Scene] = {}

    def __len__(self) -> int:
        return len(self.records)

    def scene(self, scan: str) -> Scene:
        if scan not in self._scenes:
            scene = read_osd(self.root / f"{scan}.pcd", level=True).scene
            scene.scene_id = scan
            keep = network_subset(len(scene.points), self.max_points)  # the runtime's draw
            if keep is not None:
                scene = take_points(scene, keep)
            self._scenes[scan] = scene
        return self._scenes[scan]

    def scene_of(self, index: int) -> str:
        """The scan query ``index`` asks about (without reading it)."""
        return self.records[index]["scan"]

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        r = self.records[index]
        query = Query(r["description"], list(r["object_ids"]), f"{r['scan']}/{index}",
                      r["eval_type"], r["kind"])
        return Sample(self.scene(r["scan"]), query)
