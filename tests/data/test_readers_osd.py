"""OSD / mOSD scans: the label scheme on a written fixture, and the real Kinect scans in
``../shared/data/osd-learn`` (skipped when that folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pypcd4 import PointCloud

from query3d.data.readers.common import pack_rgb
from query3d.training.data.readers import osd_instances, read_osd


def write_osd(path: Path, labels: np.ndarray, xyz: np.ndarray, rgb: np.ndarray,
              width: int, height: int) -> Path:
    """The OSD layout: fields label x y z rgba, organized, binary."""
    record = np.empty(width * height, dtype=[("label", "<u4"), ("x", "<f4"), ("y", "<f4"),
                                             ("z", "<f4"), ("rgba", "<u4")])
    record["label"] = labels
    for k, axis in enumerate("xyz"):
        record[axis] = xyz[:, k]
    record["rgba"] = pack_rgb(rgb)
    header = ("# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
              "FIELDS label x y z rgba\nSIZE 4 4 4 4 4\nTYPE U F F F U\nCOUNT 1 1 1 1 1\n"
              f"WIDTH {width}\nHEIGHT {height}\nVIEWPOINT 0 0 0 1 0 0 0\n"
              f"POINTS {width * height}\nDATA binary\n")
    path.write_bytes(header.encode() + record.tobytes())
    return path


LABELS = np.array([0, 1, 1, 2, 20, 20, 21, 30, 30, 0, 31, 40])


def small_scan(tmp_path: Path, labels: np.ndarray = LABELS) -> Path:
    rng = np.random.default_rng(0)
    xyz = rng.uniform(0.5, 1.0, size=(len(labels), 3)).astype(np.float32)
    xyz[labels == 0, 2] = np.nan  # OSD: invalid points have z = NaN, label 0
    rgb = rng.uniform(size=(len(labels), 3))
    return write_osd(tmp_path / "scan.pcd", labels, xyz, rgb, width=4, height=3)


def test_label_scheme_merged_parts_and_table(tmp_path):
    cloud = read_osd(small_scan(tmp_path))
    valid = LABELS != 0
    np.testing.assert_array_equal(cloud.index, np.flatnonzero(valid))
    # README relabelling: objects label // 10 (parts 20, 21 -> 2; 30, 31 -> 3), table -1
    np.testing.assert_array_equal(cloud.scene.instance, [-1, -1, -1, 2, 2, 2, 3, 3, 3, 4])
    np.testing.assert_array_equal(cloud.scene.semantic, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    assert [o.object_id for o in cloud.scene.objects] == [2, 3, 4]
    assert {o.category for o in cloud.scene.objects} == {"object"}

    parts = read_osd(small_scan(tmp_path), merge_parts=False, table_as_instance=True)
    np.testing.assert_array_equal(parts.scene.instance, LABELS[valid])

    merged_table = read_osd(small_scan(tmp_path), table_as_instance=True, keep_nan=True)
    assert len(merged_table.scene.points) == len(LABELS)
    np.testing.assert_array_equal(merged_table.scene.instance[:4], [-1, 1, 1, 1])


def test_out_of_scheme_labels_are_reported(tmp_path):
    with pytest.raises(ValueError, match=r"scan\.pcd: labels \[15\] are outside the OSD"):
        read_osd(small_scan(tmp_path, np.where(LABELS == 21, 15, LABELS)))
    bad = write_osd(tmp_path / "nan.pcd", np.ones(4, np.uint32),
                    np.array([[0, 0, np.nan]] * 4, np.float32), np.zeros((4, 3)), 2, 2)
    with pytest.raises(ValueError, match=r"nan\.pcd: 4 NaN points carry a non-zero label"):
        read_osd(bad)


def test_instances_helper_matches_readme_division(tmp_path):
    labels = np.array([0, 5, 29, 20, 47, 90])
    instance, semantic = osd_instances(labels)
    np.testing.assert_array_equal(instance, [-1, -1, 2, 2, 4, 9])
    np.testing.assert_array_equal(semantic, [-1, 0, 1, 1, 1, 1])


def test_real_scans(shared):
    files = sorted((shared / "data" / "osd-learn").glob("learn*.pcd"))
    assert len(files) == 8
    for path in files:
        raw = PointCloud.from_path(path).pc_data  # independent decode of the raw labels
        labels = raw["label"].astype(np.int64)
        cloud = read_osd(path)
        scene = cloud.scene
        assert (cloud.width, cloud.height) == (640, 480)
        # NaN points are exactly the label-0 points: dropping by coordinates keeps the rest
        np.testing.assert_array_equal(cloud.index, np.flatnonzero(labels != 0))
        assert np.isfinite(scene.points).all()
        objects = sorted({int(v) // 10 for v in labels if v >= 20})
        assert [o.object_id for o in scene.objects] == objects
        assert np.sum(scene.semantic == 0) == np.sum((labels >= 1) & (labels <= 9))
        for box in scene.objects:
            pts = scene.points[scene.instance == box.object_id]
            assert np.all(np.abs(pts - box.center) <= box.size / 2 + 1e-6)
            assert 0.02 < box.size.max() < 0.5  # tabletop objects, metres
        (camera,) = scene.cameras
        np.testing.assert_allclose(camera.K, [[525, 0, 319.5], [0, 525, 239.5], [0, 0, 1]],
                                   atol=1e-3)
        v, u = np.divmod(cloud.index, 640)
        np.testing.assert_allclose(camera.image[v, u] / 255.0, scene.colors, atol=1e-6)
        assert np.isnan(camera.depth).sum() == np.sum(labels == 0)
        if path.name not in ("learn33.pcd", "learn40.pcd"):  # the scans with split parts
            continue
        full = read_osd(path, keep_nan=True, merge_parts=False)
        assert len(full.scene.points) == 640 * 480
        np.testing.assert_array_equal(
            np.unique(full.scene.instance[full.scene.instance >= 0]),
            np.unique(labels[labels >= 20]))


def test_real_scans_levelled_to_the_table_frame(shared):
    for name in ("learn0.pcd", "learn33.pcd"):
        cloud = read_osd(shared / "data" / "osd-learn" / name, level=True)
        scene = cloud.scene
        table = scene.points[scene.semantic == 0]
        objects = scene.points[scene.semantic == 1]
        assert np.percentile(np.abs(table[:, 2]), 90) < 0.01  # the table is z = 0
        assert np.median(objects[:, 2]) > 0.03  # objects stand on it
        (camera,) = scene.cameras
        assert 0.3 < camera.T_world_cam[2, 3] < 1.5  # Kinect above the table
        # every point still projects to the pixel it came from
        world_to_cam = np.linalg.inv(camera.T_world_cam)
        cam = scene.points.astype(np.float64) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        uv = cam @ camera.K.T
        pixel = np.rint(uv[:, :2] / uv[:, 2:]).astype(int)
        v, u = np.divmod(cloud.index, 640)
        np.testing.assert_array_equal(pixel, np.stack([u, v], axis=1))
        # image left is world +y (the robot's left), as in the synthetic scenes
        left_half = scene.points[u < 320]
        assert np.median(left_half[:, 1]) > np.median(scene.points[u >= 320][:, 1])


def test_level_recovers_a_known_table_plane(tmp_path):
    """A table 0.7 m below a camera pitched 40 degrees down; one object point 0.1 m up."""
    rng = np.random.default_rng(1)
    world = np.column_stack([rng.uniform(0.4, 1.2, 40), rng.uniform(-0.4, 0.4, 40),
                             np.zeros(40)])
    world[-1] = [0.8, 0.1, 0.1]
    pitch = np.deg2rad(40)
    forward = np.array([np.cos(pitch), 0, -np.sin(pitch)])
    right = np.array([0, -1.0, 0])
    down = np.cross(forward, right)
    R_world_cam = np.stack([right, down, forward], axis=1)  # columns: optical axes in world
    cam = (world - [0, 0, 0.7]) @ R_world_cam  # world -> optical frame
    labels = np.r_[np.ones(39), 20].astype(np.uint32)
    path = write_osd(tmp_path / "tilt.pcd", labels, cam.astype(np.float32),
                     rng.uniform(size=(40, 3)), width=40, height=1)
    scene = read_osd(path, level=True).scene
    np.testing.assert_allclose(scene.points[:39, 2], 0, atol=1e-5)
    np.testing.assert_allclose(scene.points[39], [0.8, 0.1, 0.1], atol=1e-5)
