"""S3DIS rooms: ``Area_N/<room>/Annotations/<class>_<i>.txt``, rows ``x y z r g b``.

Each annotation file is one object, so its file gives the instance and its name the
class. The 13 classes are the benchmark's; ``stairs`` (a handful of files) is folded into
``clutter`` as the reference preprocessing (PointNet's ``collect_indoor3d_data``) does.
The release has at least one corrupt row (Area_5/hallway_6 ceiling_1.txt); it is
reported with file and line like any other bad row rather than silently patched.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from query3d.data.readers.common import bad_file, boxes_from_instances
from query3d.data.sample import Scene

S3DIS_CLASSES = ("ceiling", "floor", "wall", "beam", "column", "window", "door", "table",
                 "chair", "sofa", "bookcase", "board", "clutter")
CLASS_ALIASES = {"stairs": "clutter"}
ANNOTATION_NAME = re.compile(r"^(?P<cls>[a-z]+)_(?P<num>\d+)$")


def _annotation_class(path: Path) -> str:
    match = ANNOTATION_NAME.match(path.stem)
    if match is None:
        raise bad_file(path, "annotation files are named <class>_<number>.txt")
    name = CLASS_ALIASES.get(match["cls"], match["cls"])
    if name not in S3DIS_CLASSES:
        raise bad_file(path, f"unknown S3DIS class {match['cls']!r}")
    return name


def _read_rows(path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():  # an empty file is reported below, not warned
            warnings.simplefilter("ignore", UserWarning)
            rows = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise bad_file(path, f"bad row ({err})") from err
    if rows.size == 0:
        raise bad_file(path, "no points")
    if rows.shape[1] != 6:
        raise bad_file(path, f"rows must be 'x y z r g b', found {rows.shape[1]} columns")
    colours = rows[:, 3:]
    if colours.min() < 0 or colours.max() > 255:
        raise bad_file(path, f"colours must be 0-255, got [{colours.min()}, {colours.max()}]")
    return rows


def _natural_key(path: Path) -> tuple[str, int]:
    match = ANNOTATION_NAME.match(path.stem)
    return (match["cls"], int(match["num"])) if match else (path.stem, -1)


def read_s3dis_room(room_dir: str | Path) -> Scene:
    """One room; instance ids number the annotation files in (class, number) order."""
    room_dir = Path(room_dir)
    annotation_dir = room_dir / "Annotations"
    if not annotation_dir.is_dir():
        raise bad_file(room_dir, "no Annotations/ folder (expected Area_N/<room>/)")
    files = sorted(annotation_dir.glob("*.txt"), key=_natural_key)
    if not files:
        raise bad_file(annotation_dir, "no <class>_<number>.txt files")
    points, colours, instance, semantic, categories = [], [], [], [], {}
    for object_id, path in enumerate(files):
        name = _annotation_class(path)
        rows = _read_rows(path)
        points.append(rows[:, :3])
        colours.append(rows[:, 3:] / 255.0)
        instance.append(np.full(len(rows), object_id, np.int64))
        semantic.append(np.full(len(rows), S3DIS_CLASSES.index(name), np.int64))
        categories[object_id] = name
    scene = Scene(
        scene_id=f"{room_dir.parent.name}_{room_dir.name}",
        points=np.concatenate(points).astype(np.float32),
        colors=np.concatenate(colours).astype(np.float32),
        instance=np.concatenate(instance),
        semantic=np.concatenate(semantic),
        class_names=list(S3DIS_CLASSES),
    )
    scene.objects = boxes_from_instances(scene.points, scene.instance, categories)
    return scene


def list_s3dis_rooms(root: str | Path, areas: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
                     ) -> list[Path]:
    """Room folders of the given areas (Area 5 is the usual test area)."""
    root = Path(root)
    rooms = []
    for area in areas:
        area_dir = root / f"Area_{area}"
        if not area_dir.is_dir():
            raise bad_file(area_dir, "no such S3DIS area folder")
        rooms += sorted(p for p in area_dir.iterdir() if (p / "Annotations").is_dir())
    return rooms
