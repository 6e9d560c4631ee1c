"""SemanticKITTI scans: ``sequences/XX/velodyne/NNNNNN.bin`` (float32 x, y, z, remission)
and ``sequences/XX/labels/NNNNNN.label`` (uint32: semantic id in the lower 16 bits,
instance id in the upper 16).

Raw semantic ids map to the 19 training classes through the benchmark's learning map
(``semantic-kitti.yaml``); unlabeled, outlier and the ids it folds into unlabeled become
-1. Instance ids are only meaningful for "thing" classes and repeat across classes, so a
point's instance is ``class * 2**16 + instance id`` (stable over a whole sequence, which
tracking-style queries can rely on) and -1 for stuff or instance id 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from query3d.data.readers.common import bad_file, boxes_from_instances
from query3d.data.sample import Scene

KITTI_CLASSES = ("car", "bicycle", "motorcycle", "truck", "other-vehicle", "person",
                 "bicyclist", "motorcyclist", "road", "parking", "sidewalk", "other-ground",
                 "building", "fence", "vegetation", "trunk", "terrain", "pole", "traffic-sign")
THING_CLASSES = 8  # the first eight training classes have instances
# semantic-kitti.yaml learning_map, with its 0 ("unlabeled") shifted to -1
LEARNING_MAP = {
    0: -1, 1: -1, 10: 0, 11: 1, 13: 4, 15: 2, 16: 4, 18: 3, 20: 4, 30: 5, 31: 6, 32: 7,
    40: 8, 44: 9, 48: 10, 49: 11, 50: 12, 51: 13, 52: -1, 60: 8, 70: 14, 71: 15, 72: 16,
    80: 17, 81: 18, 99: -1, 252: 0, 253: 6, 254: 5, 255: 7, 256: 4, 257: 4, 258: 3, 259: 4,
}
_LOOKUP = np.full(1 << 16, -2, dtype=np.int64)  # -2 marks ids outside the map
for _raw, _learned in LEARNING_MAP.items():
    _LOOKUP[_raw] = _learned


def read_velodyne(path: str | Path) -> np.ndarray:
    """(N, 4) float32 x, y, z, remission."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise bad_file(path, f"cannot read ({err.strerror})") from err
    if len(raw) % 16:
        raise bad_file(path, f"size {len(raw)} is not a multiple of 16 bytes (4 float32 per "
                             "point); truncated?")
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 4).copy()


def read_labels(path: str | Path, points: int) -> tuple[np.ndarray, np.ndarray]:
    """(semantic training id or -1, raw 16-bit instance id) per point."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise bad_file(path, f"cannot read ({err.strerror})") from err
    if len(raw) != 4 * points:
        raise bad_file(path, f"{len(raw)} bytes for {points} points; expected {4 * points} "
                             "(one uint32 per point)")
    label = np.frombuffer(raw, dtype="<u4")
    semantic = _LOOKUP[label & 0xFFFF]
    unknown = np.unique(label[semantic == -2] & 0xFFFF)
    if unknown.size:
        raise bad_file(path, f"semantic ids {unknown.tolist()} are not in the SemanticKITTI "
                             "learning map")
    return semantic, (label >> 16).astype(np.int64)


def read_semantic_kitti_scan(bin_path: str | Path, label_path: str | Path | None = None,
                             remission_as_color: bool = False) -> Scene:
    """One scan; labels are looked up beside it (``../labels/<same>.label``) when not
    given and skipped when absent (the test split has none). ``Scene`` has no intensity
    field, so remission can be carried as grey colour for models that want it."""
    bin_path = Path(bin_path)
    scan = read_velodyne(bin_path)
    if label_path is None:
        candidate = bin_path.parent.parent / "labels" / f"{bin_path.stem}.label"
        label_path = candidate if candidate.is_file() else None
    semantic = instance = None
    categories: dict[int, str] = {}
    if label_path is not None:
        semantic, raw_instance = read_labels(label_path, len(scan))
        is_thing = (semantic >= 0) & (semantic < THING_CLASSES) & (raw_instance > 0)
        instance = np.where(is_thing, semantic * (1 << 16) + raw_instance, -1)
        for object_id in np.unique(instance[is_thing]):
            categories[int(object_id)] = KITTI_CLASSES[int(object_id) >> 16]
    colors = None
    if remission_as_color:
        colors = np.repeat(np.clip(scan[:, 3:4], 0.0, 1.0), 3, axis=1).astype(np.float32)
    sequence = bin_path.parent.parent.name
    scene = Scene(scene_id=f"{sequence}_{bin_path.stem}", points=scan[:, :3].copy(),
                  colors=colors, instance=instance, semantic=semantic,
                  class_names=list(KITTI_CLASSES))
    if instance is not None:
        scene.objects = boxes_from_instances(scene.points, instance, categories)
    return scene
