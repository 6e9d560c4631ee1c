"""ScanNet ``.sens`` exports: a folder written in SensReader's layout (jpg colour, 16-bit
millimetre PNG depth, 4x4 pose and intrinsic text files) whose geometry is known, so
back-projected depth must land on the known world plane."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from query3d.training.data.readers import read_scannet_frames, refer_centre

DEPTH_K = np.array([[20.0, 0, 9.5], [0, 20.0, 7.5], [0, 0, 1]])
COLOUR_K = np.array([[40.0, 0, 19.5], [0, 40.0, 14.5], [0, 0, 1]])
PLANE_DEPTH_MM = 1500


def pose(yaw: float, position: tuple[float, float, float]) -> np.ndarray:
    """Camera looking along world +x (optical z) from ``position``, turned by yaw."""
    look = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)  # optical -> world
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = rz @ look
    T[:3, 3] = position
    return T


def write_matrix(path: Path, matrix: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(f"{v:.6f}" for v in row) for row in matrix) + "\n")


def write_export(folder: Path, poses: list[np.ndarray]) -> Path:
    for sub in ("color", "depth", "pose", "intrinsic"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for name, K in (("intrinsic_depth", DEPTH_K), ("intrinsic_color", COLOUR_K)):
        full = np.eye(4)
        full[:3, :3] = K
        write_matrix(folder / "intrinsic" / f"{name}.txt", full)
    for i, T in enumerate(poses):
        gradient = np.linspace(0, 255, 40, dtype=np.uint8)
        colour = np.stack([np.tile(gradient, (30, 1)), np.full((30, 40), 90, np.uint8),
                           np.full((30, 40), 10 * i, np.uint8)], axis=-1)
        Image.fromarray(colour).save(folder / "color" / f"{i}.jpg", quality=95)
        depth = np.full((15, 20), PLANE_DEPTH_MM, np.uint16)
        depth[0, :4] = 0  # no reading
        Image.fromarray(depth).save(folder / "depth" / f"{i}.png")
        write_matrix(folder / "pose" / f"{i}.txt", T)
    return folder


def test_frames_back_project_onto_the_known_plane(tmp_path):
    poses = [pose(0.0, (1.0, 2.0, 0.5)), np.full((4, 4), -np.inf),
             pose(0.3, (1.0, 2.0, 0.5)), pose(0.6, (1.0, 2.0, 0.5))]
    folder = write_export(tmp_path / "scene0000_00", poses)
    views = read_scannet_frames(folder)
    assert [v.name for v in views] == ["frame0", "frame2", "frame3"]  # -inf pose skipped
    view = views[1]
    assert view.image.shape == (15, 20, 3) and view.image.dtype == np.uint8
    np.testing.assert_allclose(view.K, DEPTH_K)
    assert np.isnan(view.depth[0, :4]).all()
    np.testing.assert_allclose(view.depth[5], PLANE_DEPTH_MM / 1000.0)
    # pixel (u=12, v=9) at 1.5 m, camera-to-world pose -> world point
    z = view.depth[9, 12]
    cam = np.array([(12 - DEPTH_K[0, 2]) * z / DEPTH_K[0, 0],
                    (9 - DEPTH_K[1, 2]) * z / DEPTH_K[1, 1], z, 1.0])
    world = view.T_world_cam @ cam
    np.testing.assert_allclose(world[:3], poses[2][:3, :3] @ cam[:3] + poses[2][:3, 3],
                               atol=1e-5)  # poses are written with 6 decimals
    forward = poses[2][:3, 2]
    np.testing.assert_allclose(np.dot(world[:3] - poses[2][:3, 3], forward), 1.5, atol=1e-5)
    # the colour gradient survives the resize to depth resolution
    assert view.image[7, 0, 0] < view.image[7, -1, 0]


def test_step_limit_offset_and_colour_resolution(tmp_path):
    poses = [pose(0.1 * i, (float(i), 0.0, 1.0)) for i in range(5)]
    folder = write_export(tmp_path / "s", poses)
    offset = np.array([0.5, -1.0, 0.25])
    views = read_scannet_frames(folder, frame_step=2, max_frames=2, world_offset=offset)
    assert [v.name for v in views] == ["frame0", "frame2"]
    np.testing.assert_allclose(views[1].T_world_cam[:3, 3], poses[2][:3, 3] - offset,
                               atol=1e-6)
    full = read_scannet_frames(folder, max_frames=1, colour_resolution=True)[0]
    assert full.image.shape == (30, 40, 3) and full.depth.shape == (30, 40)
    np.testing.assert_allclose(full.K, COLOUR_K)
    assert np.isnan(full.depth[0, :8]).all() and np.isfinite(full.depth[2:]).all()


def test_refer_centre_is_the_mesh_vertex_mean(tmp_path):
    vertices = np.array([[0, 0, 0], [2, 0, 0], [0, 4, 0], [0, 0, 6]], np.float32)
    header = ("ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\n"
              "property float y\nproperty float z\nend_header\n")
    (tmp_path / "m.ply").write_bytes(header.encode() + vertices.astype("<f4").tobytes())
    np.testing.assert_allclose(refer_centre(tmp_path / "m.ply"), [0.5, 1.0, 1.5])


def test_broken_exports_are_reported(tmp_path):
    folder = write_export(tmp_path / "b", [pose(0.0, (0, 0, 0)), pose(0.1, (0, 0, 0))])
    write_matrix(folder / "pose" / "1.txt", np.eye(4)[:3])
    with pytest.raises(ValueError, match=r"pose/1\.txt: expected a 4x4 matrix, got 3x4"):
        read_scannet_frames(folder)
    write_matrix(folder / "pose" / "1.txt", np.eye(4))
    (folder / "color" / "1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ValueError, match=r"color/1\.jpg: unreadable image"):
        read_scannet_frames(folder)
    (folder / "color" / "1.jpg").unlink()
    (folder / "depth" / "0.png").unlink()
    with pytest.raises(ValueError, match=r"depth/0\.png: no such file"):
        read_scannet_frames(folder)
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(folder / "depth" / "0.png")
    with pytest.raises(ValueError, match=r"depth/0\.png: depth must be a 16-bit"):
        read_scannet_frames(folder)
    with pytest.raises(ValueError, match="no color/ folder"):
        read_scannet_frames(tmp_path)
