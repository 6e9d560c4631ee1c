"""Composite real scans: pasted objects keep what the camera could see of them (range,
height, the side it faces), land on free table, hide what is behind them, and every
query names objects of the composite; composites leave a calibration fold with any scan
they were made of."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from query3d.data.readers.common import boxes_from_instances
from query3d.data.sample import CameraView, Scene
from query3d.training.data.readers.mosd_composite import (
    DEPTH_TOLERANCE,
    CompositeDataset,
    Piece,
    _pixels,
    composite,
    source_scans,
)
from query3d.training.data.readers.osd_refer import MOSD_OBJECTS

K = np.array([[131.25, 0, 79.5], [0, 131.25, 59.5], [0, 0, 1]])  # a 160x120 Kinect
HEIGHT = 0.6


def _camera() -> CameraView:
    """Levelled like a read mOSD scan: camera 0.6 m above the table's z = 0, looking
    along +x and 40 degrees down, image-left = +y."""
    pitch = np.radians(40)
    forward = np.array([np.cos(pitch), 0, -np.sin(pitch)])
    right = np.array([0.0, -1.0, 0.0])
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], 1)
    pose[:3, 3] = [0, 0, HEIGHT]
    return CameraView(np.zeros((120, 160, 3), np.uint8), K, pose,
                      np.full((120, 160), np.nan, np.float32))


def _scan(name: str, box_lo: tuple[float, float], size: float = 0.1) -> Scene:
    """Ray-cast scan of a table (x 0.3-1.6, y +-0.7) with one box standing on it."""
    camera = _camera()
    v, u = np.mgrid[0:120, 0:160]
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)],
                    -1).reshape(-1, 3) @ camera.T_world_cam[:3, :3].T
    origin = camera.T_world_cam[:3, 3]
    lo = np.array([box_lo[0], box_lo[1], 0.0])
    hi = lo + size
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = (lo - origin) / rays, (hi - origin) / rays
    near = np.nanmax(np.minimum(t0, t1), 1)
    far = np.nanmin(np.maximum(t0, t1), 1)
    hits_box = (near <= far) & (near > 0)
    t_table = -origin[2] / rays[:, 2]
    table_xy = origin[:2] + t_table[:, None] * rays[:, :2]
    hits_table = (rays[:, 2] < 0) & (np.abs(table_xy[:, 1]) < 0.7) & \
        (table_xy[:, 0] > 0.3) & (table_xy[:, 0] < 1.6)
    t = np.where(hits_box, near, np.where(hits_table, t_table, np.nan))
    ok = np.isfinite(t)
    points = (origin + t[:, None] * rays)[ok].astype(np.float32)
    instance = np.where(hits_box, 2, -1)[ok]
    semantic = np.where(hits_box, 1, 0)[ok]
    colors = np.where(hits_box[ok, None], [0.8, 0.1, 0.1], [0.7, 0.6, 0.5]).astype(np.float32)
    scene = Scene(name, points, colors, instance, semantic, cameras=[camera],
                  class_names=["table", "object"])
    scene.objects = boxes_from_instances(points, instance, {2: "object"})
    return scene


def test_source_scans_name_every_scan_of_a_composite() -> None:
    assert source_scans("learn3") == {"learn3"}
    assert source_scans("learn3+learn7+learn12~4") == {"learn3", "learn7", "learn12"}


def test_a_pasted_object_keeps_its_view_lands_on_free_table_and_hides_what_is_behind(
) -> None:
    base = _scan("base", (0.7, -0.05))
    other = _scan("other", (0.9, 0.2))
    piece = Piece("other", 2, other.points[other.instance == 2],
                  other.colors[other.instance == 2], "box", "red")
    scene, placed = composite(base, [piece], np.random.default_rng(0))
    assert placed == {3: piece} and scene.scene_id == "base+other"
    pasted = scene.points[scene.instance == 3]
    assert len(pasted) > 0.5 * len(piece.points)  # some may hide behind the base's box
    # a turn about the camera's vertical axis: range from it and height are kept
    ranges = np.sort(np.linalg.norm(pasted[:, :2], axis=1))
    original = np.sort(np.linalg.norm(piece.points[:, :2], axis=1))
    assert ranges.min() >= original.min() - 1e-4 and ranges.max() <= original.max() + 1e-4
    assert pasted[:, 2].min() >= piece.points[:, 2].min() - 1e-5
    # it did move, and not into the base's box
    assert not np.allclose(pasted.mean(0), piece.points.mean(0), atol=0.02)
    base_box = scene.points[scene.instance == 2]
    gap = np.linalg.norm(pasted[:, None, :2] - base_box[None, ::7, :2], axis=-1).min()
    assert gap > 0.01
    # seen through the base camera: no kept point lies behind another group's point
    camera = scene.cameras[0]
    rc, z, in_view = _pixels(scene.points, camera)
    assert in_view.all()
    depth = camera.depth[rc[:, 0], rc[:, 1]]
    assert np.all(depth <= z + 1e-5)
    groups = np.where(scene.instance == 3, 1, 0)
    for g in (0, 1):
        mine, theirs = groups == g, groups != g
        nearest = np.full(camera.depth.shape, np.inf)
        np.minimum.at(nearest, tuple(rc[theirs].T), z[theirs])
        assert np.all(nearest[tuple(rc[mine].T)] >= z[mine] - DEPTH_TOLERANCE)
    # the table behind the pasted box lost points, and the image shows its colour
    assert len(scene.points) < len(base.points) + len(piece.points)
    drawn = camera.image[tuple(rc[scene.instance == 3].T)]
    assert np.all(drawn == np.rint(np.array([0.8, 0.1, 0.1]) * 255).astype(np.uint8))


def test_a_piece_that_fits_nowhere_is_not_placed() -> None:
    base = _scan("base", (0.7, -0.05))
    huge = Piece("other", 2, np.random.default_rng(0).uniform(
        [0.3, -0.7, 0.0], [1.6, 0.7, 0.3], (500, 3)).astype(np.float32),
        np.zeros((500, 3), np.float32), "box", "red")
    scene, placed = composite(base, [huge], np.random.default_rng(0), tries=10)
    assert placed == {} and len(scene.points) == len(base.points)
    assert set(np.unique(scene.instance)) == {-1, 2}


def test_composites_of_real_scans_are_seeded_and_their_queries_name_their_objects(
        shared: Path) -> None:
    root = shared / "data" / "mosd-learn"
    data = CompositeDataset(root, "train", scenes=6, per_scene=8, seed=3)
    again = CompositeDataset(root, "train", scenes=6, per_scene=8, seed=3)
    assert data.records == again.records and len(data) >= 20
    objects = json.loads(MOSD_OBJECTS.read_text())
    val = {r["scan"] for r in json.loads(Path(MOSD_OBJECTS).with_name(
        "mosd_queries.json").read_text()) if r["split"] == "val"}
    for index in range(0, len(data), 5):
        sample = data[index]
        scans = source_scans(sample.scene.scene_id)
        assert len(scans) >= 2 and not scans & val  # train scans only
        present = {o.object_id for o in sample.scene.objects}
        assert set(sample.query.object_ids) <= present
        base = sample.scene.scene_id.split("+")[0]
        for object_id in sample.query.object_ids:  # the base's own objects keep their ids
            if str(object_id) in objects[base]:
                assert (sample.scene.instance == object_id).sum() > 0
        assert sample.scene.cameras and np.isfinite(sample.scene.cameras[0].depth).any()
