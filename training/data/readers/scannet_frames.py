"""Posed RGB-D frames exported from ScanNet ``.sens`` files (its SensReader layout).

``color/<i>.jpg`` (1296x968), ``depth/<i>.png`` (640x480 uint16 millimetres, 0 = no
reading), ``pose/<i>.txt`` (4x4 camera-to-world; invalid frames hold ``-inf``) and
``intrinsic/intrinsic_{color,depth}.txt`` (4x4). Colour and depth are registered, so like
OpenScene and BPNet the colour image is resized to the depth resolution and both use the
depth intrinsics; ``colour_resolution=True`` keeps the full colour image instead (depth
then resampled, nearest neighbour, to colour resolution with the colour intrinsics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from query3d.data.readers.common import bad_file
from query3d.data.readers.ply import read_ply_vertices
from query3d.data.sample import CameraView

DEPTH_SCALE = 1000.0  # ScanNet depth PNGs are millimetres


def read_matrix(path: Path, shape: tuple[int, ...] = (4, 4)) -> np.ndarray:
    """A whitespace-separated matrix text file (ScanNet poses and intrinsics)."""
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except OSError as err:
        raise bad_file(path, "no such file") from err
    except ValueError as err:
        raise bad_file(path, f"not a numeric matrix ({err})") from err
    if values.shape != shape:
        raise bad_file(path, f"expected a {shape[0]}x{shape[1]} matrix, got "
                             f"{values.shape[0]}x{values.shape[1]}")
    return values


def _image(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert(mode) if mode == "RGB" else img)
    except FileNotFoundError as err:
        raise bad_file(path, "no such file") from err
    except OSError as err:  # PIL: unidentified or truncated image
        raise bad_file(path, f"unreadable image ({err})") from err


def _depth_metres(path: Path) -> np.ndarray:
    raw = _image(path, "I;16")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise bad_file(path, f"depth must be a 16-bit single-channel PNG, got {raw.dtype} "
                             f"{raw.shape}")
    depth = raw.astype(np.float32) / DEPTH_SCALE
    depth[raw == 0] = np.nan
    return depth


def refer_centre(mesh_ply: str | Path) -> np.ndarray:
    """The offset 3D-STMN's preprocessing subtracted from the mesh: the mean of the
    ``{scene}_vh_clean_2.ply`` vertices. Poses are in mesh coordinates, so frames must
    be shifted by it to line up with a ``_refer.pth`` scene."""
    vertices = read_ply_vertices(mesh_ply)
    xyz = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1).astype(np.float64)
    return xyz.mean(axis=0)


def frame_ids(folder: Path) -> list[int]:
    color_dir = folder / "color"
    if not color_dir.is_dir():
        raise bad_file(folder, "no color/ folder (expected a ScanNet .sens export)")
    ids = []
    for path in color_dir.glob("*.jpg"):
        if not path.stem.isdigit():
            raise bad_file(path, "colour frames are named <frame number>.jpg")
        ids.append(int(path.stem))
    return sorted(ids)


def read_scannet_frames(
    folder: str | Path,
    frame_step: int = 1,
    max_frames: int | None = None,
    world_offset: np.ndarray | None = None,
    colour_resolution: bool = False,
) -> list[CameraView]:
    """Every ``frame_step``-th valid frame (invalid poses are skipped, as ScanNet marks
    lost tracking with ``-inf``), at most ``max_frames``. ``world_offset`` is subtracted
    from camera positions (see :func:`refer_centre`)."""
    folder = Path(folder)
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    ids = frame_ids(folder)
    intrinsic = folder / "intrinsic"
    K_depth = read_matrix(intrinsic / "intrinsic_depth.txt")[:3, :3]
    K_colour = read_matrix(intrinsic / "intrinsic_color.txt")[:3, :3]
    offset = np.zeros(3) if world_offset is None else np.asarray(world_offset, np.float64)
    views: list[CameraView] = []
    for frame in ids[::frame_step]:
        if max_frames is not None and len(views) >= max_frames:
            break
        pose = read_matrix(folder / "pose" / f"{frame}.txt")
        if not np.isfinite(pose).all():
            continue
        pose = pose.copy()
        pose[:3, 3] -= offset
        depth = _depth_metres(folder / "depth" / f"{frame}.png")
        colour = Image.fromarray(_image(folder / "color" / f"{frame}.jpg", "RGB"))
        if colour_resolution:
            depth = np.asarray(Image.fromarray(depth, mode="F").resize(
                colour.size, Image.Resampling.NEAREST))
            image, K = np.asarray(colour), K_colour
        else:
            size = (depth.shape[1], depth.shape[0])
            image, K = np.asarray(colour.resize(size, Image.Resampling.BILINEAR)), K_depth
        views.append(CameraView(image=np.ascontiguousarray(image, dtype=np.uint8), K=K.copy(),
                                T_world_cam=pose, depth=depth.astype(np.float32),
                                name=f"frame{frame}"))
    return views
