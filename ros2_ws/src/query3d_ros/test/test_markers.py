"""Markers, palette, box geometry, projection into a camera, the z-buffered instance
image and the debug image."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from query3d.model.output import QueryResult, TargetResult
from query3d.viz import BACKGROUND_COLOR, BOX_EDGES, PALETTE, box_corners, colors_for_ids
from query3d_ros.conversions import mask_image, project_points
from query3d_ros.markers import (
    draw_debug_image,
    make_marker_array,
    project_box,
)

K = np.array([[100.0, 0.0, 40.0], [0.0, 100.0, 30.0], [0.0, 0.0, 1.0]])
IDENTITY = np.eye(4)


def target(tid: int, center, size, yaw: float, score: float = 0.9, label: str = "mug"):
    return TargetResult(
        target_id=tid,
        point_indices=np.arange(3),
        point_scores=np.ones(3),
        box_center=np.array(center, float),
        box_size=np.array(size, float),
        box_yaw=yaw,
        score=score,
        label=label,
    )


def cloud_header() -> Header:
    h = Header(frame_id="camera_optical")
    h.stamp.sec, h.stamp.nanosec = 42, 7
    return h


def rotate(q, v) -> np.ndarray:
    """Rotate v by unit quaternion q (x, y, z, w) with the textbook formula."""
    u, w = np.array([q.x, q.y, q.z]), q.w
    return 2 * u.dot(v) * u + (w * w - u.dot(u)) * np.asarray(v) + 2 * w * np.cross(u, v)


def test_marker_array_layout() -> None:
    result = QueryResult(
        text="the mugs",
        num_points=10,
        targets=[
            target(0, [1.0, 2.0, 0.5], [0.2, 0.1, 0.3], math.pi / 6, 0.93, "mug"),
            target(1, [-1.0, 0.0, 0.25], [0.4, 0.4, 0.5], 0.0, 0.51, ""),
        ],
    )
    array = make_marker_array(result.targets, cloud_header(), lifetime_s=1.5, alpha=0.4)
    first, boxes, labels = array.markers[0], array.markers[1::2], array.markers[2::2]
    assert first.action == Marker.DELETEALL and len(array.markers) == 5
    assert all(
        m.header.frame_id == "camera_optical" and m.header.stamp.sec == 42 for m in array.markers
    )
    assert [m.type for m in boxes] == [Marker.CUBE] * 2
    assert [m.type for m in labels] == [Marker.TEXT_VIEW_FACING] * 2
    cube = boxes[0]
    assert (cube.pose.position.x, cube.pose.position.y, cube.pose.position.z) == (1.0, 2.0, 0.5)
    np.testing.assert_allclose(
        rotate(cube.pose.orientation, [1, 0, 0]),
        [math.cos(math.pi / 6), math.sin(math.pi / 6), 0],
        atol=1e-12,
    )
    assert (cube.scale.x, cube.scale.y, cube.scale.z) == (0.2, 0.1, 0.3)
    assert cube.color.a == pytest.approx(0.4)
    assert (cube.lifetime.sec, cube.lifetime.nanosec) == (1, 500_000_000)
    assert labels[0].text == "mug 0.93" and labels[1].text == "target 1 0.51"
    assert labels[0].pose.position.z > 0.5 + 0.15  # above the box top
    colours = [(m.color.r, m.color.g, m.color.b) for m in boxes]
    assert colours[0] != colours[1]
    np.testing.assert_allclose(np.array(colours) * 255.0, colors_for_ids([0, 1]), atol=1e-9)
    assert (labels[0].color.r, labels[0].color.g, labels[0].color.b) == colours[0]


def test_colours_are_stable_per_id_across_frames() -> None:
    a = make_marker_array([target(3, [0, 0, 1], [1, 1, 1], 0.0)], cloud_header())
    b = make_marker_array(
        [target(5, [2, 0, 1], [1, 1, 1], 0.0), target(3, [9, 9, 9], [2, 2, 2], 1.0)], cloud_header()
    )
    colour = {m.id: (m.color.r, m.color.g, m.color.b) for m in b.markers[1::2]}
    assert (a.markers[1].color.r, a.markers[1].color.g, a.markers[1].color.b) == colour[3]
    assert colour[3] != colour[5]


def test_zero_targets_only_clear_and_bad_boxes_are_rejected() -> None:
    array = make_marker_array([], cloud_header())
    assert [m.action for m in array.markers] == [Marker.DELETEALL]
    tiny = make_marker_array([target(0, [0, 0, 0], [0.0, 0.0, 0.0], 0.0)], cloud_header())
    assert tiny.markers[1].scale.x > 0  # RViz refuses zero scale
    with pytest.raises(ValueError, match="target 0 has a non-finite box"):
        make_marker_array([target(0, [np.nan, 0, 0], [1, 1, 1], 0.0)], cloud_header())
    with pytest.raises(ValueError, match="negative box size"):
        make_marker_array([target(0, [0, 0, 0], [1, -1, 1], 0.0)], cloud_header())
    with pytest.raises(ValueError, match="lifetime"):
        make_marker_array([], cloud_header(), lifetime_s=-1.0)


def test_marker_array_survives_the_wire_format() -> None:
    array = make_marker_array([target(2, [1, 2, 3], [0.5, 0.6, 0.7], 0.3)], cloud_header(), 0.25)
    back = deserialize_message(serialize_message(array), MarkerArray)
    assert [m.type for m in back.markers[1:]] == [Marker.CUBE, Marker.TEXT_VIEW_FACING]
    assert back.markers[1].pose.orientation.z == pytest.approx(math.sin(0.15))
    assert back.markers[1].lifetime.nanosec == 250_000_000


def test_colors_for_ids() -> None:
    colours = colors_for_ids([0, 1, -1, len(PALETTE)])
    assert colours.dtype == np.uint8 and colours.shape == (4, 3)
    np.testing.assert_array_equal(colours[0], PALETTE[0])
    np.testing.assert_array_equal(colours[2], BACKGROUND_COLOR)
    np.testing.assert_array_equal(colours[3], colours[0])  # the palette cycles
    assert len({tuple(c) for c in PALETTE}) == len(PALETTE)


def test_box_corners_geometry() -> None:
    corners = box_corners([1.0, 2.0, 3.0], [4.0, 2.0, 1.0], math.pi / 2)
    np.testing.assert_allclose(corners.mean(axis=0), [1.0, 2.0, 3.0])
    # yaw 90 deg turns the 4 m x-extent onto y
    np.testing.assert_allclose(np.ptp(corners, axis=0), [2.0, 4.0, 1.0], atol=1e-12)
    lengths = sorted(round(float(np.linalg.norm(corners[i] - corners[j])), 9) for i, j in BOX_EDGES)
    assert lengths == [1.0] * 4 + [2.0] * 4 + [4.0] * 4


def test_project_points_and_box() -> None:
    T = np.eye(4)
    T[:3, 3] = [0.0, 0.0, 1.0]  # the cloud origin sits 1 m in front of the camera
    uv, depth = project_points(np.array([[0.1, -0.2, 1.0], [0.0, 0.0, -3.0]]), K, T)
    np.testing.assert_allclose(uv[0], [40 + 100 * 0.1 / 2, 30 - 100 * 0.2 / 2])
    np.testing.assert_allclose(depth, [2.0, -2.0])
    assert np.isnan(uv[1]).all()  # behind the camera
    corners = project_box([0, 0, 2], [0.2, 0.2, 0.2], 0.0, K, IDENTITY)
    assert corners.shape == (8, 2) and np.isfinite(corners).all()
    assert corners[:, 0].min() == pytest.approx(40 - 100 * 0.1 / 1.9)
    with pytest.raises(ValueError, match="4x4"):
        project_points(np.zeros((1, 3)), K, np.eye(3))


def brute_force_mask(points, ids, K, T, width, height):
    out = np.full((height, width), -1, np.int32)
    best = np.full((height, width), np.inf)
    for p, i in zip(points, ids):
        cam = T[:3, :3] @ p + T[:3, 3]
        if not cam[2] > 1e-3:
            continue
        u, v = (K @ cam)[:2] / cam[2]
        col, row = int(math.floor(u + 0.5)), int(math.floor(v + 0.5))
        if 0 <= col < width and 0 <= row < height and cam[2] < best[row, col]:
            best[row, col], out[row, col] = cam[2], i
    return out


def test_mask_image_matches_a_brute_force_z_buffer() -> None:
    rng = np.random.default_rng(3)
    points = np.column_stack(
        [rng.uniform(-0.5, 0.5, 3000), rng.uniform(-0.4, 0.4, 3000), rng.uniform(-1.5, 2.0, 3000)]
    )
    ids = rng.integers(-1, 4, 3000).astype(np.int32)
    T = np.eye(4)
    T[:3, :3] = [[math.cos(0.2), 0, math.sin(0.2)], [0, 1, 0], [-math.sin(0.2), 0, math.cos(0.2)]]
    T[:3, 3] = [0.05, 0.0, 0.3]
    got = mask_image(points, ids, K, T, 80, 60)
    assert got.dtype == np.int32 and got.shape == (60, 80)
    np.testing.assert_array_equal(got, brute_force_mask(points, ids, K, T, 80, 60))
    assert (got >= 0).sum() > 100 and (got == -1).sum() > 100


def test_mask_image_nearest_point_wins_and_background_occludes() -> None:
    # three points on the optical axis -> pixel (30, 40); ids listed far to near
    points = np.array([[0, 0, 3.0], [0, 0, 1.0], [0, 0, 2.0], [0.1, 0, 1.0]])
    assert mask_image(points, [7, 5, 6, 2], K, IDENTITY, 80, 60)[30, 40] == 5
    occluded = mask_image(points, [7, -1, 6, 2], K, IDENTITY, 80, 60)
    assert occluded[30, 40] == -1 and occluded[30, 50] == 2
    assert (occluded >= 0).sum() == 1
    assert (mask_image(np.zeros((0, 3)), [], K, IDENTITY, 80, 60) == -1).all()
    with pytest.raises(ValueError, match="4 points but 3 instance ids"):
        mask_image(points, [1, 2, 3], K, IDENTITY, 80, 60)
    with pytest.raises(ValueError, match="focal length"):
        mask_image(points, [1, 2, 3, 4], np.diag([0.0, 1.0, 1.0]), IDENTITY, 80, 60)


def test_debug_image_tints_masks_and_draws_boxes() -> None:
    image = np.full((60, 80, 3), 100, np.uint8)
    instances = np.full((60, 80), -1, np.int32)
    instances[10:20, 10:20] = 1
    out = draw_debug_image(
        image, instances, boxes=[np.array([30.0, 25.0, 70.0, 55.0])], labels=["mug 0.93"], ids=[1]
    )
    assert out.shape == image.shape and out.dtype == np.uint8
    expected = np.rint(0.5 * 100 + 0.5 * PALETTE[1].astype(float))
    np.testing.assert_array_equal(out[15, 15], expected)
    np.testing.assert_array_equal(out[5, 5], [100, 100, 100])  # background untouched
    np.testing.assert_array_equal(out[40, 30], PALETTE[1])  # left edge of the box
    np.testing.assert_array_equal(out[40, 50], [100, 100, 100])  # inside, not filled
    assert (out[13:25, 30:70] != 100).any()  # the label above the box
    np.testing.assert_array_equal(image, 100)  # input not modified


def test_debug_image_projected_box_skips_corners_behind_camera() -> None:
    image = np.zeros((60, 80, 3), np.uint8)
    corners = project_box([0, 0, 2], [0.6, 0.4, 0.4], 0.0, K, IDENTITY)
    drawn = draw_debug_image(image, None, [corners], ["box"], ids=[0])
    assert (drawn == PALETTE[0]).all(axis=2).sum() > 50
    half = corners.copy()
    half[4:] = np.nan  # the far face is behind the camera: only 4 edges remain
    partial = draw_debug_image(image, None, [half], [], ids=[0])
    assert 0 < (partial == PALETTE[0]).all(axis=2).sum() < (drawn == PALETTE[0]).all(axis=2).sum()
    with pytest.raises(ValueError, match=r"\(H,W,3\) uint8"):
        draw_debug_image(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\(8,2\) corners"):
        draw_debug_image(image, None, [np.zeros((3, 2))], [], ids=[0])
    with pytest.raises(ValueError, match="instance image"):
        draw_debug_image(image, np.zeros((5, 5), np.int32))
