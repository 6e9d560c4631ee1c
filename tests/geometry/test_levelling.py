"""Support-plane estimation and levelling: real Kinect scans in their optical frame and
synthetic planes under random rotations come out z-up with the plane at z = 0."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from query3d.data.readers.cloud import read_cloud
from query3d.geometry import estimate_support_plane, level_cloud, levelling_transform

SCANS = ("learn0", "learn10", "learn25", "learn40")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))))


def _labelled_table(points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The table points (OSD labels 1-9) and their least-squares normal, towards the
    camera: the ground truth the estimate is checked against."""
    table = points[(labels >= 1) & (labels <= 9)].astype(np.float64)
    centroid = table.mean(axis=0)
    normal = np.linalg.svd(table - centroid, full_matrices=False)[2][2]
    return table, normal if np.dot(normal, -centroid) > 0 else -normal


@pytest.fixture(scope="module")
def scans() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Four raw mOSD scans (../shared beside the checkout, as tests/conftest.py finds it)."""
    shared = Path(os.environ.get("QUERY3D_SHARED", Path(__file__).resolve().parents[3] / "shared"))
    root = shared / "data" / "mosd-learn"
    if not root.is_dir():
        pytest.skip(f"{root} is absent (project-internal data)")
    out = {}
    for name in SCANS:
        cloud = read_cloud(root / f"{name}.pcd", keep_nan=True)
        out[name] = (cloud.scene.points, cloud.fields["label"].astype(np.int64))
    return out


@pytest.mark.parametrize("up_hint", [(0.0, -1.0, 0.0), None], ids=["optical-hint", "no-hint"])
def test_real_kinect_scans_find_the_labelled_table(scans, up_hint) -> None:
    """Raw mOSD scans are in the Kinect optical frame (NaN holes kept); the estimated
    plane is the table the dataset labels, with or without a hint of which way is up."""
    for name, (points, labels) in scans.items():
        table, truth = _labelled_table(points, labels)
        plane = estimate_support_plane(points, threshold=0.01, up_hint=up_hint)
        assert _angle_deg(plane.normal, truth) < 1.0, name
        assert np.median(np.abs(plane.distance(table))) < 0.005, name
        assert plane.inlier_fraction > 0.5, name


def test_levelled_scan_is_z_up_with_the_table_at_zero_and_objects_above(scans) -> None:
    points, labels = scans["learn0"]
    levelled, T, plane = level_cloud(points)
    finite = np.isfinite(points).all(axis=1)
    assert np.array_equal(np.isfinite(levelled).all(axis=1), finite)  # rows kept
    table = levelled[(labels >= 1) & (labels <= 9)]
    objects = levelled[labels >= 20]
    assert abs(float(np.median(table[:, 2]))) < 0.005
    assert float(np.median(objects[:, 2])) > 0.02  # objects stand on it, not below
    camera = T @ np.array([0.0, 0.0, 0.0, 1.0])
    assert camera[2] == pytest.approx(plane.offset) and camera[2] > 0.3  # above the table
    assert np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-9)
    assert np.linalg.det(T[:3, :3]) == pytest.approx(1.0)


def _synthetic_scene(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A 2x2 m plane (3 mm noise) with boxes standing on it, z up; returns the points
    and how many are on the plane."""
    plane = np.c_[rng.uniform(-1, 1, (4000, 2)), rng.normal(0, 0.003, 4000)]
    boxes = [np.c_[rng.uniform(-0.1, 0.1, (300, 2)) + c, rng.uniform(0.02, 0.3, 300)]
             for c in rng.uniform(-0.7, 0.7, (5, 2))]
    return np.concatenate([plane, *boxes]), len(plane)


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_planes_under_random_rotations_are_levelled(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scene, on_plane = _synthetic_scene(rng)
    rotation = Rotation.random(random_state=seed).as_matrix()
    sensor = scene @ rotation.T + rng.uniform(-1, 1, 3) + np.array([0.0, 0.0, 0.0])
    sensor = sensor + rotation @ np.array([0.0, 0.0, -1.5])  # sensor 1.5 m above the plane
    true_up = rotation @ np.array([0.0, 0.0, 1.0])
    plane = estimate_support_plane(sensor, threshold=0.01, up_hint=None, seed=seed)
    assert _angle_deg(plane.normal, true_up) < 1.0
    T = levelling_transform(plane, forward=(0.0, 0.0, 1.0))
    levelled = sensor @ T[:3, :3].T + T[:3, 3]
    assert np.abs(levelled[:on_plane, 2]).mean() < 0.005
    assert (levelled[on_plane:, 2] > 0.01).mean() > 0.95


def test_a_cloud_with_nothing_to_stand_on_is_refused() -> None:
    blob = np.random.default_rng(0).normal(0, 1.0, (3000, 3))
    with pytest.raises(ValueError, match="no support plane"):
        estimate_support_plane(blob, threshold=0.01, min_inlier_fraction=0.2)
    with pytest.raises(ValueError, match="at least 10 finite points"):
        estimate_support_plane(np.full((50, 3), np.nan))
