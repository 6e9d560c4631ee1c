"""Reading the project's scene-folder format (what ``query3d data generate`` writes and
the bundled demo scene uses) into ``Scene``s.

```
DIR/<split>/meta.json                    generator options, class names, colours
DIR/<split>/queries.json                 Multi3DRefer-like records, all scenes
DIR/<split>/scenes/<scene_id>/cloud.npz  points f32 (N,3), colors u8 (N,3),
                                         instance i32 (N,), semantic i32 (N,)
                              objects.json   oriented boxes, colour, scene graph
                              cameras.json   K, T_world_cam, image size per camera
                              camN_rgb.png, camN_depth.png (uint16 mm, 0 = none)
```
The writer lives with the generator (``query3d.training.data.synthetic.io``); the reader
is here so the ROS scene player and the demo read a scene without the training package.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from query3d.data.sample import CameraView, ObjectBox, Scene

CLOUD_KEYS = ("points", "colors", "instance", "semantic")


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err})") from err


def read_cloud_arrays(path: Path) -> dict[str, np.ndarray]:
    """The four per-point arrays of a scene's ``cloud.npz``, checked for agreement."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: cloud file missing")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in CLOUD_KEYS if k not in z.files]
            if missing:
                raise ValueError(f"{path}: cloud lacks arrays {missing}")
            arrays = {k: z[k] for k in CLOUD_KEYS}
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npz cloud ({err})") from err
    n = len(arrays["points"])
    if arrays["points"].shape != (n, 3) or any(len(arrays[k]) != n for k in CLOUD_KEYS):
        raise ValueError(f"{path}: cloud arrays disagree in length or shape")
    return arrays


def read_png(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image missing")
    with Image.open(path) as img:
        arr = np.array(img)
    if arr.dtype == np.int32:  # PIL opens 16-bit PNGs as mode "I"
        arr = arr.astype(np.uint16)
    return arr


def millimetres_to_depth(mm: np.ndarray) -> np.ndarray:
    """Metres from a Kinect-style 16-bit millimetre image, NaN where 0 (no return)."""
    return np.where(mm > 0, mm.astype(np.float32) / 1000.0, np.nan).astype(np.float32)


def read_depth(path: Path) -> np.ndarray:
    mm = read_png(path)
    if mm.dtype != np.uint16 or mm.ndim != 2:
        raise ValueError(f"{path}: depth must be a 16-bit single-channel PNG, got "
                         f"{mm.dtype} {mm.shape}")
    return millimetres_to_depth(mm)


def read_scene_dir(scene_dir: Path, scene_id: str, class_names: list[str],
                   subset: Callable[[int], np.ndarray | None] | None = None,
                   load_cameras: bool = True) -> Scene:
    """One scene folder as a ``Scene``. ``subset(n)`` picks the rows kept of its ``n``
    points (None: all), e.g. the runtime's density draw."""
    cloud = read_cloud_arrays(scene_dir / "cloud.npz")
    keep = subset(len(cloud["points"])) if subset is not None else None
    if keep is None:
        keep = np.arange(len(cloud["points"]))
    objects = [ObjectBox(int(o["object_id"]), o["category"], np.asarray(o["center"]),
                         np.asarray(o["size"]), float(o["yaw"]), o["color"])
               for o in read_json(scene_dir / "objects.json")]
    cameras = []
    if load_cameras:
        for c in read_json(scene_dir / "cameras.json"):
            cameras.append(CameraView(read_png(scene_dir / c["rgb"]), np.asarray(c["K"]),
                                      np.asarray(c["T_world_cam"]),
                                      read_depth(scene_dir / c["depth"]), c["name"]))
    return Scene(
        scene_id=scene_id,
        points=cloud["points"][keep],
        colors=cloud["colors"][keep].astype(np.float32) / 255.0,
        instance=cloud["instance"][keep].astype(np.int64),
        semantic=cloud["semantic"][keep].astype(np.int64),
        objects=objects, cameras=cameras, class_names=list(class_names))


class SceneSplit:
    """One split of a scene-folder dataset: its metadata, query records and scenes."""

    def __init__(self, root: str | Path, split: str | None = None) -> None:
        self.root = Path(root)
        if split is None:
            splits = sorted(d.name for d in self.root.iterdir() if (d / "meta.json").is_file()) \
                if self.root.is_dir() else []
            if not splits:
                raise ValueError(f"{self.root} is not a scene-folder dataset (no <split>/"
                                 "meta.json)")
            split = splits[0]
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            raise FileNotFoundError(f"{self.split_dir}: no such split (run "
                                    f"`query3d data generate --split {split}` first)")
        self.meta = read_json(self.split_dir / "meta.json")
        self.records: list[dict] = read_json(self.split_dir / "queries.json")
        self.scene_ids: list[str] = list(self.meta["scenes"])
        self.class_names: list[str] = list(self.meta["class_names"])

    def queries(self, scene_id: str | None = None) -> list[dict]:
        """Raw query records (with their ``program``), optionally of one scene."""
        return [r for r in self.records if scene_id is None or r["scene_id"] == scene_id]

    def scene_dir(self, scene_id: str) -> Path:
        path = self.split_dir / "scenes" / scene_id
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: scene folder missing")
        return path

    def read_scene(self, scene_id: str,
                   subset: Callable[[int], np.ndarray | None] | None = None,
                   load_cameras: bool = True) -> Scene:
        return read_scene_dir(self.scene_dir(scene_id), scene_id, self.class_names, subset,
                              load_cameras)
