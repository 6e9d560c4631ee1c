"""ScanRefer / Multi3DRefer annotations over ScanNet scenes in the 3D-STMN layout.

Scenes are ``{scene_id}_refer.pth`` files as written by 3D-STMN / MDIN / IPDN's
``prepare_data_refer.py``: ``torch.save((coords, colors, superpoint, sem_labels,
instance_labels))`` of numpy arrays, where coords are float64 mesh vertices minus their
mean, colors float64 ``rgb / 127.5 - 1`` in [-1, 1], superpoint int64 segment ids,
sem_labels float64 ScanNet-20 ids with -100 for ignored classes, and instance_labels int64
aggregation object ids (ScanRefer's ``object_id``) with -1 where unannotated (SoftGroup-
style files use -100; both are accepted). Test-split files hold only the first three.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from query3d.data.readers.common import bad_file, boxes_from_instances
from query3d.data.sample import Query, Sample, Scene

SCANNET20_CLASSES = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window",
    "bookshelf", "picture", "counter", "desk", "curtain", "refrigerator", "shower curtain",
    "toilet", "sink", "bathtub", "otherfurniture",
)
IGNORE_LABELS = (-1, -100)
MULTI3DREFER_TYPES = {"zt_w_d": "zt", "zt_wo_d": "zt", "st_w_d": "st", "st_wo_d": "st",
                      "mt": "mt"}
KIND_OF_EVAL_TYPE = {"zt": "zero", "st": "referring", "mt": "multi"}


@dataclass
class ReferRecord:
    """One annotation: the query plus what ``Query`` has no field for.

    ``subset`` is Multi3DRefer's own ``eval_type`` (zt_w_d, zt_wo_d, st_w_d, st_wo_d, mt),
    needed to report its five splits; ScanRefer records leave it empty.
    """

    scene_id: str
    query: Query
    object_name: str
    subset: str = ""


@dataclass
class ReferScene:
    scene: Scene
    superpoint: np.ndarray  # (N,) int64 mesh segment ids (3D-STMN's superpoints)


def _load_json_list(path: Path) -> list[dict]:
    try:
        entries = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise bad_file(path, f"not a readable JSON file ({err})") from err
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise bad_file(path, "expected a JSON list of annotation objects")
    return entries


def _require(entry: dict, keys: tuple[str, ...], index: int, path: Path) -> None:
    missing = [k for k in keys if k not in entry]
    if missing:
        raise bad_file(path, f"entry {index} lacks {', '.join(missing)}")


def read_scanrefer(path: str | Path) -> list[ReferRecord]:
    """ScanRefer_filtered_{train,val}.json: one target per description."""
    path = Path(path)
    records = []
    for i, entry in enumerate(_load_json_list(path)):
        _require(entry, ("scene_id", "object_id", "object_name", "ann_id", "description"),
                 i, path)
        try:
            object_id = int(entry["object_id"])
        except (TypeError, ValueError) as err:
            raise bad_file(path, f"entry {i}: object_id {entry['object_id']!r} is not an "
                                 "integer") from err
        query = Query(text=str(entry["description"]), object_ids=[object_id],
                      ann_id=str(entry["ann_id"]), eval_type="st", kind="referring")
        records.append(ReferRecord(str(entry["scene_id"]), query, str(entry["object_name"])))
    return records


def read_multi3drefer(path: str | Path) -> list[ReferRecord]:
    """multi3drefer_{train,val}.json: zero, one or many targets per description."""
    path = Path(path)
    records = []
    for i, entry in enumerate(_load_json_list(path)):
        _require(entry, ("scene_id", "object_ids", "object_name", "ann_id", "description",
                         "eval_type"), i, path)
        subset = entry["eval_type"]
        if subset not in MULTI3DREFER_TYPES:
            raise bad_file(path, f"entry {i}: eval_type {subset!r} is not one of "
                                 f"{tuple(MULTI3DREFER_TYPES)}")
        ids = entry["object_ids"]
        if not isinstance(ids, list) or not all(isinstance(x, int) for x in ids):
            raise bad_file(path, f"entry {i}: object_ids must be a list of integers")
        eval_type = MULTI3DREFER_TYPES[subset]
        expected = {"zt": len(ids) == 0, "st": len(ids) == 1, "mt": len(ids) >= 2}[eval_type]
        if not expected:
            raise bad_file(path, f"entry {i}: eval_type {subset} with {len(ids)} targets")
        query = Query(text=str(entry["description"]), object_ids=list(ids),
                      ann_id=str(entry["ann_id"]), eval_type=eval_type,
                      kind=KIND_OF_EVAL_TYPE[eval_type])
        records.append(ReferRecord(str(entry["scene_id"]), query, str(entry["object_name"]),
                                   subset))
    return records


def _numpy_safe_globals() -> list:
    """What torch's weights-only unpickler must allow for pickled numpy arrays. Files
    from numpy 1.x name ``numpy.core.multiarray``; numpy 2 renamed it ``numpy._core``."""
    core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1.26
    reconstruct = core.multiarray._reconstruct
    dtypes = [type(np.dtype(t)) for t in ("f4", "f8", "i4", "i8", "u1", "u4", "i2", "u2",
                                          "bool")]
    return [reconstruct, (reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray,
            np.dtype, *dtypes]


def _as_array(value: object, name: str, n: int | None, path: Path) -> np.ndarray:
    array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if n is not None and len(array) != n:
        raise bad_file(path, f"{name} has {len(array)} rows, coords has {n}")
    return array


def _labels(value: object, name: str, n: int, path: Path) -> np.ndarray:
    raw = _as_array(value, name, n, path)
    labels = raw.astype(np.int64)
    if np.any(labels != raw):
        raise bad_file(path, f"{name} holds non-integer values")
    bad = np.unique(labels[(labels < 0) & ~np.isin(labels, IGNORE_LABELS)])
    if bad.size:
        raise bad_file(path, f"{name} holds negative values {bad.tolist()} other than the "
                             f"ignore labels {IGNORE_LABELS}")
    return np.where(labels < 0, -1, labels)


def read_refer_scene(path: str | Path, trusted: bool = False) -> ReferScene:
    """Load one ``_refer.pth``. Loading is weights-only (no code runs from the file)
    unless ``trusted``: numpy arrays are allow-listed, anything else is refused."""
    path = Path(path)
    try:
        if trusted:
            data = torch.load(path, weights_only=False)
        else:
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                data = torch.load(path, weights_only=True)
    except FileNotFoundError as err:
        raise bad_file(path, "no such file") from err
    except Exception as err:  # zip, pickle and unpickler-policy errors: all a bad file
        raise bad_file(path, f"cannot load as a _refer.pth tuple ({err})") from err
    if not isinstance(data, (tuple, list)) or len(data) not in (3, 5):
        raise bad_file(path, "expected (coords, colors, superpoint[, sem_labels, "
                             "instance_labels])")
    coords = _as_array(data[0], "coords", None, path)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise bad_file(path, f"coords must be (N, 3), got {coords.shape}")
    n = len(coords)
    colors = _as_array(data[1], "colors", n, path).astype(np.float64)
    if colors.shape != (n, 3):
        raise bad_file(path, f"colors must be (N, 3), got {colors.shape}")
    if colors.size and (colors.min() < -1.001 or colors.max() > 1.001):
        raise bad_file(path, f"colors must be rgb/127.5-1 in [-1, 1], got "
                             f"[{colors.min():.3g}, {colors.max():.3g}]")
    superpoint = _labels(data[2], "superpoint", n, path)
    semantic = instance = None
    if len(data) == 5:
        semantic = _labels(data[3], "sem_labels", n, path)
        if semantic.max(initial=-1) >= len(SCANNET20_CLASSES):
            raise bad_file(path, f"sem_labels go up to {semantic.max()}; ScanNet-20 has "
                                 f"{len(SCANNET20_CLASSES)} classes")
        instance = _labels(data[4], "instance_labels", n, path)
    scene = Scene(
        scene_id=path.name.removesuffix("_refer.pth"),
        points=coords.astype(np.float32),
        colors=np.clip((colors + 1.0) / 2.0, 0.0, 1.0).astype(np.float32),
        instance=instance, semantic=semantic, class_names=list(SCANNET20_CLASSES))
    if instance is not None and semantic is not None:
        categories = {}
        for object_id in np.unique(instance[instance >= 0]):
            votes = semantic[(instance == object_id) & (semantic >= 0)]
            if votes.size:
                categories[int(object_id)] = SCANNET20_CLASSES[int(np.bincount(votes).argmax())]
        scene.objects = boxes_from_instances(scene.points, instance, categories)
    return ReferScene(scene, superpoint)


class ReferDataset:
    """Samples joining annotation records with their scenes (``scene_dir`` holds the
    ``_refer.pth`` files), keeping the last few scenes in memory because annotations of
    one scene come together. Returned scenes are shared between samples: augmentations
    return new objects and never modify them."""

    def __init__(self, records: list[ReferRecord], scene_dir: str | Path,
                 cached_scenes: int = 4, trusted: bool = False) -> None:
        self.records = records
        self.scene_dir = Path(scene_dir)
        self.cached_scenes = cached_scenes
        self.trusted = trusted
        self._cache: OrderedDict[str, ReferScene] = OrderedDict()

    def __len__(self) -> int:
        return len(self.records)

    def scene(self, scene_id: str) -> ReferScene:
        if scene_id in self._cache:
            self._cache.move_to_end(scene_id)
            return self._cache[scene_id]
        loaded = read_refer_scene(self.scene_dir / f"{scene_id}_refer.pth", self.trusted)
        self._cache[scene_id] = loaded
        while len(self._cache) > self.cached_scenes:
            self._cache.popitem(last=False)
        return loaded

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        scene = self.scene(record.scene_id).scene
        if scene.instance is None:
            raise ValueError(f"scene {record.scene_id} has no instance labels (test split?)")
        missing = set(record.query.object_ids) - set(np.unique(scene.instance).tolist())
        if missing:
            raise bad_file(self.scene_dir / f"{record.scene_id}_refer.pth",
                           f"annotation {record.query.ann_id} targets objects "
                           f"{sorted(missing)} that have no points")
        return Sample(scene=scene, query=record.query)
