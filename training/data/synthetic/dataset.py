"""Reading a generated split back as the project's ``Scene`` / ``Sample`` types."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from query3d.model.runtime.density import network_subset
from query3d.training.data.sample import CameraView, ObjectBox, Query, Sample, Scene
from query3d.training.data.synthetic.io import read_cloud, read_depth, read_json, read_png
from query3d.training.data.synthetic.queries.facts import SceneFacts, facts_from_objects


class SyntheticDataset:
    """Queries of one split as ``Sample``s (``len`` = number of queries).

    ``max_points`` subsamples each cloud deterministically, exactly as the runtime does
    (``network_subset``);
    ``load_cameras=False`` skips the images when only the cloud is needed. Scenes are
    cached (``cache_scenes`` most recent) because consecutive queries share them.
    """

    def __init__(self, root: str | Path, split: str, max_points: int | None = None,
                 load_cameras: bool = True, cache_scenes: int = 4):
        self.root = Path(root)
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            raise FileNotFoundError(f"{self.split_dir}: no such split (run "
                                    f"`query3d data generate --split {split}` first)")
        self.meta = read_json(self.split_dir / "meta.json")
        self.records: list[dict] = read_json(self.split_dir / "queries.json")
        self.scene_ids: list[str] = list(self.meta["scenes"])
        self.class_names: list[str] = list(self.meta["class_names"])
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

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def scenes(self) -> Iterator[Scene]:
        for scene_id in self.scene_ids:
            yield self.scene(scene_id)

    def queries(self, scene_id: str | None = None) -> list[dict]:
        """Raw query records (with their ``program``), optionally of one scene."""
        return [r for r in self.records if scene_id is None or r["scene_id"] == scene_id]

    def scene_dir(self, scene_id: str) -> Path:
        path = self.split_dir / "scenes" / scene_id
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: scene folder missing")
        return path

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
        scene = self._load(scene_id)
        self._cache[scene_id] = scene
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return scene

    def _load(self, scene_id: str) -> Scene:
        d = self.scene_dir(scene_id)
        cloud = read_cloud(d / "cloud.npz")
        # the subset the runtime draws from the same cloud: eval scores what a node answers
        keep = network_subset(len(cloud["points"]), self.max_points or 0)
        if keep is None:
            keep = np.arange(len(cloud["points"]))
        objects = [ObjectBox(int(o["object_id"]), o["category"], np.asarray(o["center"]),
                             np.asarray(o["size"]), float(o["yaw"]), o["color"])
                   for o in read_json(d / "objects.json")]
        cameras = []
        if self.load_cameras:
            for c in read_json(d / "cameras.json"):
                cameras.append(CameraView(read_png(d / c["rgb"]), np.asarray(c["K"]),
                                          np.asarray(c["T_world_cam"]),
                                          read_depth(d / c["depth"]), c["name"]))
        return Scene(
            scene_id=scene_id,
            points=cloud["points"][keep],
            colors=cloud["colors"][keep].astype(np.float32) / 255.0,
            instance=cloud["instance"][keep].astype(np.int64),
            semantic=cloud["semantic"][keep].astype(np.int64),
            objects=objects, cameras=cameras, class_names=list(self.class_names))
