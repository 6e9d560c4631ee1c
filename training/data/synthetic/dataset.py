"""Reading a generated split back as the project's ``Scene`` / ``Sample`` types."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from query3d.data.readers.scene_folder import SceneSplit, read_json
from query3d.data.sample import Query, Sample, Scene
from query3d.model.runtime.density import network_subset
from query3d.training.data.synthetic.queries.facts import SceneFacts, facts_from_objects


class SyntheticDataset(SceneSplit):
    """Queries of one split as ``Sample``s (``len`` = number of queries).

    ``max_points`` subsamples each cloud deterministically, exactly as the runtime does
    (``network_subset``);
    ``load_cameras=False`` skips the images when only the cloud is needed. Scenes are
    cached (``cache_scenes`` most recent) because consecutive queries share them.
    """

    def __init__(self, root: str | Path, split: str, max_points: int | None = None,
                 load_cameras: bool = True, cache_scenes: int = 4):
        super().__init__(root, split)
        self.max_points = max_points
        self.load_cameras = load_cameras
        self._cache: OrderedDict[str, Scene] = OrderedDict()
        self._cache_size = max(cache_scenes, 1)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        r = self.records[index]
        query = Query(r["description"], [int(i) for i in r["object_ids"]], str(r["ann_id"]),
                      r["eval_type"], r["kind"])
        return Sample(self.scene(r["scene_id"]), query)

    def scene_of(self, index: int) -> str:
        """The scene query ``index`` asks about (without reading it)."""
        return self.records[index]["scene_id"]

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def scenes(self) -> Iterator[Scene]:
        for scene_id in self.scene_ids:
            yield self.scene(scene_id)

    def facts(self, scene_id: str) -> SceneFacts:
        """What the query checker sees, for re-checking stored queries."""
        d = self.scene_dir(scene_id)
        cams = read_json(d / "cameras.json")
        position = np.asarray(cams[0]["T_world_cam"])[:3, 3]
        return facts_from_objects(read_json(d / "objects.json"), position, self.meta["kind"])

    def scene(self, scene_id: str) -> Scene:
        if scene_id in self._cache:
            self._cache.move_to_end(scene_id)
            return self._cache[scene_id]
        # the subset the runtime draws from the same cloud: eval scores what a node answers
        scene = self.read_scene(scene_id, lambda n: network_subset(n, self.max_points or 0),
                                self.load_cameras)
        self._cache[scene_id] = scene
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return scene
