"""The one sample type every reader and the synthetic generator produce.

A ``Scene`` is a labelled point cloud (robot base / world frame) with optional posed
cameras; a ``Query`` is a sentence with the instance ids it refers to (none for a
zero-target query); a ``Sample`` pairs the two. Arrays are numpy so the same objects
feed training, evaluation, the benchmark tool and the ROS scene player.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EVAL_TYPES = ("zt", "st", "mt")  # zero-, single-, multi-target (Multi3DRefer)


@dataclass
class CameraView:
    """One posed RGB-D view. ``T_world_cam`` maps camera-optical-frame points to world."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    K: np.ndarray  # (3, 3) float64 pinhole intrinsics
    T_world_cam: np.ndarray  # (4, 4) float64 extrinsics, camera -> world
    depth: np.ndarray | None = None  # (H, W) float32 metres, NaN where missing
    name: str = "camera"


@dataclass
class ObjectBox:
    """An oriented 3D box: yaw about world z, size is full extent (dx, dy, dz)."""

    object_id: int
    category: str
    center: np.ndarray  # (3,)
    size: np.ndarray  # (3,)
    yaw: float = 0.0
    color: str = ""


@dataclass
class Scene:
    scene_id: str
    points: np.ndarray  # (N, 3) float32
    colors: np.ndarray | None = None  # (N, 3) float32 in [0, 1]
    instance: np.ndarray | None = None  # (N,) int64, -1 = background / unlabelled
    semantic: np.ndarray | None = None  # (N,) int64, -1 = unlabelled
    objects: list[ObjectBox] = field(default_factory=list)
    cameras: list[CameraView] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)  # semantic id -> name

    def __post_init__(self) -> None:
        n = len(self.points)
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise ValueError(f"scene {self.scene_id}: points must be (N, 3), got "
                             f"{self.points.shape}")
        for name in ("colors", "instance", "semantic"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise ValueError(f"scene {self.scene_id}: {name} has {len(arr)} rows, "
                                 f"points has {n}")

    def object(self, object_id: int) -> ObjectBox:
        for obj in self.objects:
            if obj.object_id == object_id:
                return obj
        raise KeyError(f"scene {self.scene_id} has no object {object_id}")


@dataclass
class Query:
    text: str
    object_ids: list[int]  # empty for a zero-target query
    ann_id: str = "0"
    eval_type: str = "st"  # zt | st | mt
    kind: str = "referring"  # referring | instruction | multi | zero | relation | ...

    def __post_init__(self) -> None:
        if self.eval_type not in EVAL_TYPES:
            raise ValueError(f"eval_type must be one of {EVAL_TYPES}, got {self.eval_type!r}")


@dataclass
class Sample:
    scene: Scene
    query: Query

    def target_mask(self) -> np.ndarray:
        """Per-point boolean mask of the union of all targets (all False for zero-target)."""
        if self.scene.instance is None:
            raise ValueError(f"scene {self.scene.scene_id} has no instance labels")
        return np.isin(self.scene.instance, np.asarray(self.query.object_ids, dtype=np.int64))
