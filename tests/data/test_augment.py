"""Augmentations keep points, labels, boxes, cameras and queries consistent."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from query3d.config import AugmentConfig, ConfigError, load_config
from query3d.data.sample import CameraView, ObjectBox, Query, Sample, Scene
from query3d.training.data.augment import (
    augment,
    color_jitter,
    crop,
    is_relational,
    is_view_dependent,
    mentioned_objects,
    point_dropout,
    rotate_z,
    scale,
)

K = np.array([[60.0, 0, 39.5], [0, 60.0, 29.5], [0, 0, 1]])
OBJECTS = [  # id, category, centre, size, yaw
    (1, "mug", (0.5, 0.3, 0.06), (0.08, 0.08, 0.12), 0.3),
    (2, "box", (0.5, -0.3, 0.1), (0.3, 0.2, 0.2), -0.5),
    (3, "ball", (0.9, 0.0, 0.05), (0.1, 0.1, 0.1), 0.0),
]
ONLY_ROTATION = dict(scale_range=0.0, jitter_sigma=0.0, color_jitter=0.0, point_dropout=0.0)


def look_at(eye, target) -> np.ndarray:
    z = np.asarray(target, float) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    pose[:3, 3] = eye
    return pose


def project(points: np.ndarray, camera: CameraView) -> tuple[np.ndarray, np.ndarray]:
    cam = (points.astype(np.float64) - camera.T_world_cam[:3, 3]) @ camera.T_world_cam[:3, :3]
    uv = cam @ camera.K.T
    return uv[:, :2] / uv[:, 2:], cam


def make_scene(rng: np.random.Generator, camera: bool = True, spread: float = 1.0) -> Scene:
    points, instance, semantic, boxes = [], [], [], []
    for object_id, category, centre, size, yaw in OBJECTS:
        centre = np.array(centre) * [spread, spread, 1]
        local = rng.uniform(-0.5, 0.5, size=(60, 3)) * size
        c, s = np.cos(yaw), np.sin(yaw)
        points.append(local @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + centre)
        instance.append(np.full(60, object_id))
        semantic.append(np.full(60, object_id))
        boxes.append(ObjectBox(object_id, category, centre, np.array(size, float), yaw))
    table = np.column_stack([rng.uniform(0, 1.2 * spread, 300),
                             rng.uniform(-0.6 * spread, 0.6 * spread, 300), np.zeros(300)])
    points.append(table)
    instance.append(np.full(300, -1))
    semantic.append(np.zeros(300, int))
    points = np.concatenate(points).astype(np.float32)
    cameras = []
    if camera:
        view = CameraView(image=rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8), K=K,
                          T_world_cam=look_at(np.array([-0.6, 0.0, 0.8]), [0.6, 0, 0]),
                          depth=rng.uniform(0.5, 2.0, size=(60, 80)).astype(np.float32))
        cameras.append(view)
    return Scene("s", points, colors=rng.uniform(size=(len(points), 3)).astype(np.float32),
                 instance=np.concatenate(instance), semantic=np.concatenate(semantic),
                 objects=boxes, cameras=cameras, class_names=["table", "mug", "box", "ball"])


def sample(text: str, ids: list[int], **kw) -> Sample:
    eval_type = "zt" if not ids else ("st" if len(ids) == 1 else "mt")
    return Sample(make_scene(np.random.default_rng(0), **kw), Query(text, ids,
                                                                    eval_type=eval_type))


def assert_points_in_boxes(scene: Scene, margin: float = 1e-4) -> None:
    for box in scene.objects:
        pts = scene.points[scene.instance == box.object_id] - box.center
        c, s = np.cos(-box.yaw), np.sin(-box.yaw)
        local = pts @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
        assert np.all(np.abs(local) <= box.size / 2 + margin), box.category


def test_rotation_and_scale_move_points_boxes_and_cameras_together():
    original = sample("the ball", [3])
    assert_points_in_boxes(original.scene)
    uv_before, cam_before = project(original.scene.points, original.scene.cameras[0])
    turned = scale(rotate_z(original, 0.7), 1.15)
    assert_points_in_boxes(turned.scene)
    assert not np.allclose(turned.scene.points, original.scene.points, atol=0.05)
    uv_after, cam_after = project(turned.scene.points, turned.scene.cameras[0])
    np.testing.assert_allclose(uv_after, uv_before, atol=1e-3)  # same pixel in the camera
    np.testing.assert_allclose(cam_after[:, 2], 1.15 * cam_before[:, 2], rtol=1e-5)
    np.testing.assert_allclose(turned.scene.cameras[0].depth,
                               1.15 * original.scene.cameras[0].depth, rtol=1e-6)
    assert turned.scene.object(2).yaw == pytest.approx(-0.5 + 0.7)
    np.testing.assert_allclose(turned.scene.object(2).size, 1.15 * np.array([0.3, 0.2, 0.2]))


def centres_in_camera(s: Sample) -> dict[int, np.ndarray]:
    camera = s.scene.cameras[0]
    return {o.object_id: project(o.center[None], camera)[1][0] for o in s.scene.objects}


def test_left_stays_left_in_the_camera_view_when_rotating_cameras_along():
    left = sample("the mug to the left of the box", [1])
    before = centres_in_camera(left)
    assert before[1][0] < before[2][0]  # optical x grows to the right in the image
    config = AugmentConfig(view_dependent="rotate_camera", **{**ONLY_ROTATION,
                                                              "scale_range": 0.1})
    turned_far = 0
    for seed in range(20):
        out = augment(left, np.random.default_rng(seed), config)
        after = centres_in_camera(out)
        assert after[1][0] < after[2][0]
        turned_far += abs(out.scene.object(2).yaw + 0.5) > 1.0
    assert turned_far >= 5
    # the check has teeth: rotating the points but not the camera by pi breaks it
    flipped = rotate_z(left, np.pi)
    unrotated_camera = dataclasses.replace(flipped.scene, cameras=left.scene.cameras)
    after = centres_in_camera(dataclasses.replace(flipped, scene=unrotated_camera))
    assert after[1][0] > after[2][0]


def test_view_dependent_queries_are_not_rotated_by_default_or_without_cameras():
    config = AugmentConfig(**ONLY_ROTATION)
    left = sample("the mug on the left side of the box", [1])
    out = augment(left, np.random.default_rng(1), config)
    np.testing.assert_array_equal(out.scene.points, left.scene.points)
    assert out.scene.object(1).center[1] > out.scene.object(2).center[1]  # still +y: left
    ball = augment(sample("the ball", [3]), np.random.default_rng(1), config)
    assert ball.scene.object(2).yaw != pytest.approx(-0.5)
    no_camera = sample("the mug nearest to the camera", [1], camera=False)
    policy = AugmentConfig(view_dependent="rotate_camera", **ONLY_ROTATION)
    out = augment(no_camera, np.random.default_rng(1), policy)
    np.testing.assert_array_equal(out.scene.points, no_camera.scene.points)


def test_dropout_keeps_arrays_aligned_and_never_empties_a_target():
    s = sample("the ball", [3])
    index_of = {tuple(p): i for i, p in enumerate(s.scene.points.tolist())}
    out = point_dropout(s, np.random.default_rng(2), 0.5)
    assert 0.4 < len(out.scene.points) / len(s.scene.points) < 0.6
    rows = np.array([index_of[tuple(p)] for p in out.scene.points.tolist()])
    np.testing.assert_array_equal(out.scene.instance, s.scene.instance[rows])
    np.testing.assert_array_equal(out.scene.colors, s.scene.colors[rows])
    tiny = dataclasses.replace(s.scene, instance=np.where(np.arange(len(s.scene.points)) == 0,
                                                          7, s.scene.instance))
    tiny_sample = Sample(tiny, Query("the dot", [7]))
    for seed in range(40):
        assert point_dropout(tiny_sample, np.random.default_rng(seed), 0.95).target_mask().any()


def counts(s: Sample) -> dict[int, int]:
    return {o: int(np.sum(s.scene.instance == o)) for o in (1, 2, 3)}


def test_crop_keeps_targets_and_named_anchors_whole():
    rng = np.random.default_rng(3)
    for seed in range(10):
        target = sample("the ball", [3], spread=5.0)
        out = crop(target, np.random.default_rng(seed), 1.5)
        assert counts(out)[3] == 60 and len(out.scene.points) < len(target.scene.points)
        xy = out.scene.points[:, :2]
        assert np.all(np.ptp(xy, axis=0) <= 1.5 + 1e-6)
        relational = sample("the mug left of the box", [1], spread=5.0)
        out = crop(relational, np.random.default_rng(seed), 1.5)
        assert counts(out)[1] == 60 and counts(out)[2] == 60
    generic = sample("the thing left of the box", [1], spread=5.0)
    assert len(crop(generic, rng, 1.5).scene.points) == len(generic.scene.points)
    zero = crop(sample("the green bottle", [], spread=5.0), rng, 1.0)
    assert 0 < len(zero.scene.points) < len(generic.scene.points)
    assert {o.object_id for o in zero.scene.objects} <= set(np.unique(zero.scene.instance))


def test_colour_jitter_maps_points_and_images_alike_and_keeps_hue():
    s = sample("the red mug", [1])
    s.scene.colors[0] = s.scene.cameras[0].image[5, 7] / 255.0
    out = color_jitter(s, np.random.default_rng(4), 0.2, noise=0.0)
    np.testing.assert_allclose(out.scene.colors[0] * 255, out.scene.cameras[0].image[5, 7],
                               atol=0.51)
    assert 0 <= out.scene.colors.min() and out.scene.colors.max() <= 1
    saturated = s.scene.colors.max(1) - s.scene.colors.min(1) > 0.3
    jittered = color_jitter(s, np.random.default_rng(5), 0.05)
    same_hue = (np.argmax(jittered.scene.colors, 1) == np.argmax(s.scene.colors, 1))[saturated]
    assert same_hue.mean() > 0.97
    with pytest.raises(ValueError, match="colour jitter strength"):
        color_jitter(s, np.random.default_rng(0), 0.5)


def test_deterministic_and_input_untouched():
    s = sample("the ball", [3])
    before = (s.scene.points.copy(), s.scene.colors.copy(), s.scene.cameras[0].image.copy())
    config = AugmentConfig(crop_size=0.8)
    a = augment(s, np.random.default_rng(9), config)
    b = augment(s, np.random.default_rng(9), config)
    c = augment(s, np.random.default_rng(10), config)
    np.testing.assert_array_equal(a.scene.points, b.scene.points)
    np.testing.assert_array_equal(a.scene.cameras[0].T_world_cam, b.scene.cameras[0].T_world_cam)
    assert a.scene.points.shape != c.scene.points.shape or not np.allclose(
        a.scene.points, c.scene.points)
    for kept, now in zip(before, (s.scene.points, s.scene.colors, s.scene.cameras[0].image)):
        np.testing.assert_array_equal(kept, now)
    assert not np.shares_memory(a.scene.cameras[0].image, s.scene.cameras[0].image)
    assert not np.shares_memory(a.scene.instance, s.scene.instance)
    assert a.target_mask().sum() > 0


def test_config_and_word_lists():
    # every augmentation is a key of the data.augment section, settable from YAML
    config = load_config("small", {"data": {"augment": {
        "scale_range": 0.2, "rotate_z": False, "max_angle": 0.5, "jitter_clip": 0.02}}}
    ).data.augment
    assert config.scale_range == 0.2 and not config.rotate_z and config.crop_size is None
    assert config.max_angle == 0.5 and config.jitter_clip == 0.02
    with pytest.raises(ValueError, match="view_dependent must be one of"):
        AugmentConfig(view_dependent="mirror")
    with pytest.raises(ConfigError, match="data.augment: view_dependent must be one of"):
        load_config("small", {"data": {"augment": {"view_dependent": "mirror"}}})
    view = ["the cup closest to the camera", "the box on the far side of the laptop",
            "the leftmost mug", "the chair behind the desk", "the plate in front of you"]
    plain = ["the red mug", "all the bottles", "something to drink from", "the largest box"]
    assert all(is_view_dependent(Query(t, [1])) for t in view)
    assert not any(is_view_dependent(Query(t, [1])) for t in plain)
    assert is_relational(Query("the mug on top of the book", [1]))
    assert not is_relational(Query("the biggest red mug", [1]))
    s = sample("the mug between the boxes and the ball", [1])
    assert mentioned_objects(s) == {1, 2, 3}
    assert mentioned_objects(sample("the mug next to the other thing", [1])) is None


def test_a_scene_shared_by_several_queries_is_augmented_once_and_stays_true_for_all():
    from query3d.training.data.augment import augment_scene

    config = AugmentConfig(**ONLY_ROTATION)
    ball, box = sample("the ball", [3]), sample("the box", [2])
    box = Sample(ball.scene, box.query)
    turned = augment_scene([ball, box], np.random.default_rng(1), config)
    assert turned[0].scene is turned[1].scene  # one draw, one scene
    assert [s.query for s in turned] == [ball.query, box.query]
    assert not np.allclose(turned[0].scene.points, ball.scene.points)
    np.testing.assert_array_equal(turned[0].scene.points,
                                  augment(ball, np.random.default_rng(1), config).scene.points)
    left = Sample(ball.scene, Query("the mug on the left side of the box", [1]))
    kept = augment_scene([ball, left], np.random.default_rng(1), config)
    np.testing.assert_array_equal(kept[0].scene.points, ball.scene.points)  # one is view-bound
    # dropout keeps every query's tiny target, not only the first query's
    instance = ball.scene.instance.copy()
    instance[0], instance[1] = 7, 8
    tiny = dataclasses.replace(ball.scene, instance=instance)
    queries = [Sample(tiny, Query("the dot", [7])), Sample(tiny, Query("the speck", [8]))]
    drop = AugmentConfig(point_dropout=0.95, rotate_z=False, scale_range=0.0,
                         jitter_sigma=0.0, color_jitter=0.0)
    for seed in range(20):
        out = augment_scene(queries, np.random.default_rng(seed), drop)
        assert all(s.target_mask().any() for s in out)
