"""``read_cloud``: one entry point for ``.pcd``, ``.ply`` and ``.npz`` point clouds.

Used by ``query3d segment``, the ROS scene player and the OSD sim-to-real check, so the
result keeps what those need beyond a ``Scene``: the organized grid (width, height and
each point's cell) and every raw field of the file.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from query3d.data.readers.common import (
    CloudFile,
    bad_file,
    camera_from_organized,
    finite_rows,
    unpack_rgb,
)
from query3d.data.readers.pcd import read_pcd_fields
from query3d.data.readers.ply import read_ply_vertices
from query3d.data.sample import Scene

PLY_COLOUR_NAMES = (("red", "green", "blue"), ("r", "g", "b"),
                    ("diffuse_red", "diffuse_green", "diffuse_blue"))
PLY_COLOUR_SCALE = {"u1": 255.0, "u2": 65535.0, "f4": 1.0, "f8": 1.0}
LABEL_NAMES = {"instance": ("instance", "instance_id"), "semantic": ("semantic", "semantic_id")}


def _labels(fields: dict[str, np.ndarray], kind: str) -> np.ndarray | None:
    for name in LABEL_NAMES[kind]:
        if name in fields:
            return fields[name].astype(np.int64)
    return None


def assemble(path: Path, xyz: np.ndarray, colors: np.ndarray | None,
             fields: dict[str, np.ndarray], width: int, height: int, keep_nan: bool,
             instance: np.ndarray | None = None, semantic: np.ndarray | None = None,
             scene_id: str | None = None) -> CloudFile:
    """Drop (or keep) non-finite points consistently across every per-point array."""
    xyz = np.asarray(xyz, dtype=np.float32)
    camera = None
    if height > 1 and colors is not None:
        camera = camera_from_organized(xyz.reshape(height, width, 3),
                                       colors.reshape(height, width, 3), name=path.stem)
    keep = np.ones(len(xyz), bool) if keep_nan else finite_rows(xyz)
    take = (lambda a: None if a is None else a[keep])  # noqa: E731
    scene = Scene(
        scene_id=scene_id or path.stem,
        points=xyz[keep],
        colors=take(colors),
        instance=take(instance),
        semantic=take(semantic),
        cameras=[camera] if camera is not None else [],
    )
    return CloudFile(scene=scene, path=path, width=width, height=height,
                     index=np.flatnonzero(keep).astype(np.int64),
                     fields={k: v[keep] for k, v in fields.items()})


def _read_pcd(path: Path, keep_nan: bool) -> CloudFile:
    fields, width, height = read_pcd_fields(path)
    xyz = np.stack([fields["x"], fields["y"], fields["z"]], axis=1)
    colors = None
    for name in ("rgb", "rgba"):
        if name in fields:
            if fields[name].ndim != 1 or fields[name].dtype.itemsize != 4:
                raise bad_file(path, f"PCD field {name!r} must be one 4-byte packed value")
            colors = unpack_rgb(fields[name])
            break
    # PCL's PointXYZL/XYZRGBL ``label`` is a segment id; copied verbatim (the OSD reader
    # applies that dataset's own scheme on top).
    instance = fields["label"].astype(np.int64) if "label" in fields else None
    return assemble(path, xyz, colors, fields, width, height, keep_nan, instance=instance)


def _read_ply(path: Path, keep_nan: bool) -> CloudFile:
    vertices = read_ply_vertices(path)
    names = vertices.dtype.names or ()
    fields = {n: vertices[n] for n in names}
    xyz = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1)
    colors = None
    for triple in PLY_COLOUR_NAMES:
        if all(c in names for c in triple):
            kind = vertices.dtype[triple[0]].str[1:]
            scale = PLY_COLOUR_SCALE.get(kind)
            if scale is None:
                raise bad_file(path, f"PLY colour property type {kind} is not uchar, "
                                     "ushort or float")
            colors = np.stack([vertices[c] for c in triple], 1).astype(np.float32) / scale
            break
    return assemble(path, xyz, colors, fields, len(xyz), 1, keep_nan,
                    instance=_labels(fields, "instance"), semantic=_labels(fields, "semantic"))


def _npz_colors(colors: np.ndarray, n: int, path: Path) -> np.ndarray:
    if colors.shape != (n, 3):
        raise bad_file(path, f"colors must be ({n}, 3), got {colors.shape}")
    if colors.dtype == np.uint8:
        return colors.astype(np.float32) / 255.0
    if not np.issubdtype(colors.dtype, np.floating):
        raise bad_file(path, f"colors must be uint8 0-255 or float 0-1, got {colors.dtype}")
    finite = colors[np.isfinite(colors)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise bad_file(path, f"float colors must lie in [0, 1], got [{finite.min():.3g}, "
                             f"{finite.max():.3g}] (store 0-255 colours as uint8)")
    return colors.astype(np.float32)


def _read_npz(path: Path, keep_nan: bool) -> CloudFile:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise bad_file(path, f"not a readable .npz archive ({err})") from err
    if "points" not in arrays:
        raise bad_file(path, f"npz has no 'points' array (keys: {sorted(arrays)})")
    points = arrays["points"]
    if points.ndim != 2 or points.shape[1] < 3 or not np.issubdtype(points.dtype, np.number):
        raise bad_file(path, f"points must be a numeric (N, 3) array, got {points.shape} "
                             f"{points.dtype}")
    n = len(points)
    colors = _npz_colors(arrays["colors"], n, path) if "colors" in arrays else None
    labels = {}
    for kind in ("instance", "semantic"):
        if kind in arrays:
            values = arrays[kind]
            if values.shape != (n,) or not np.issubdtype(values.dtype, np.integer):
                raise bad_file(path, f"{kind} must be an integer ({n},) array, got "
                                     f"{values.shape} {values.dtype}")
            labels[kind] = values.astype(np.int64)
    per_point = {k: v for k, v in arrays.items() if v.ndim >= 1 and len(v) == n}
    return assemble(path, points[:, :3], colors, per_point, n, 1, keep_nan, **labels)


READERS = {".pcd": _read_pcd, ".ply": _read_ply, ".npz": _read_npz}


def read_cloud(path: str | Path, keep_nan: bool = False) -> CloudFile:
    """Read a point cloud file; invalid (non-finite) points are dropped unless
    ``keep_nan``, in which case an organized cloud keeps its full grid order."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise bad_file(path, f"unsupported point cloud type {path.suffix!r}; expected one of "
                             f"{tuple(READERS)}")
    if not path.is_file():
        raise bad_file(path, "no such file")
    return reader(path, keep_nan)
