"""RViz markers and the debug image for a query result.

One palette serves both so an object has the same colour in the 3D view and in the
camera image; colours are keyed by target / instance id, so they stay stable between
frames as long as the ids do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from PIL import Image as PilImage
from PIL import ImageDraw
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from query3d.viz import BOX_EDGES, box_corners, colors_for_ids
from query3d_ros.conversions.camera import project_points

BOX_NAMESPACE = "query3d/boxes"
LABEL_NAMESPACE = "query3d/labels"
MIN_BOX_SIZE = 1e-3  # metres; RViz rejects zero scale, a one-point target still shows


def yaw_to_quaternion(yaw: float) -> Quaternion:
    """Rotation about +z, the only rotation the network predicts for a box."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def project_box(
    center: np.ndarray, size: np.ndarray, yaw: float, K: np.ndarray, T_cam_cloud: np.ndarray
) -> np.ndarray:
    """(8,2) pixel corners of a box for ``draw_debug_image``; NaN rows are behind the camera."""
    uv, _ = project_points(box_corners(center, size, yaw), K, T_cam_cloud)
    return uv


def _checked_box(target: Any) -> tuple[np.ndarray, np.ndarray, float]:
    center = np.asarray(target.box_center, dtype=np.float64).reshape(3)
    size = np.asarray(target.box_size, dtype=np.float64).reshape(3)
    yaw = float(target.box_yaw)
    if not (np.isfinite(center).all() and np.isfinite(size).all() and math.isfinite(yaw)):
        raise ValueError(
            f"target {target.target_id} has a non-finite box: "
            f"center={center.tolist()} size={size.tolist()} yaw={yaw}"
        )
    if (size < 0).any():
        raise ValueError(f"target {target.target_id} has a negative box size {size.tolist()}")
    return center, np.maximum(size, MIN_BOX_SIZE), yaw


def _duration(seconds: float) -> Duration:
    if not seconds >= 0.0:
        raise ValueError(f"marker lifetime must be >= 0 seconds, got {seconds}")
    sec, nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
    return Duration(sec=sec, nanosec=nanosec)


def target_text(target: Any) -> str:
    """Label shown in RViz and on the debug image: category (or id) and score."""
    name = target.label or f"target {target.target_id}"
    return f"{name} {float(target.score):.2f}"


def make_marker_array(
    targets: Sequence[Any],
    header: Header,
    lifetime_s: float = 0.0,
    alpha: float = 0.4,
    text_height: float = 0.05,
) -> MarkerArray:
    """DELETEALL, then per target an oriented CUBE and a TEXT_VIEW_FACING label.

    ``targets`` are query3d.model.output.TargetResult (or anything with target_id,
    box_center, box_size, box_yaw, score, label). ``header`` is the source cloud's, so
    the boxes sit in its frame at its time. ``lifetime_s=0`` keeps markers until the
    next array's DELETEALL removes them.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"marker alpha must be in [0, 1], got {alpha}")
    lifetime = _duration(lifetime_s)
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for target in targets:
        center, size, yaw = _checked_box(target)
        r, g, b = (colors_for_ids([target.target_id])[0] / 255.0).tolist()
        box = Marker(
            header=header,
            ns=BOX_NAMESPACE,
            id=int(target.target_id),
            type=Marker.CUBE,
            action=Marker.ADD,
            lifetime=lifetime,
        )
        box.pose = Pose(
            position=Point(x=center[0], y=center[1], z=center[2]),
            orientation=yaw_to_quaternion(yaw),
        )
        box.scale = Vector3(x=size[0], y=size[1], z=size[2])
        box.color = ColorRGBA(r=r, g=g, b=b, a=float(alpha))
        label = Marker(
            header=header,
            ns=LABEL_NAMESPACE,
            id=int(target.target_id),
            type=Marker.TEXT_VIEW_FACING,
            action=Marker.ADD,
            lifetime=lifetime,
            text=target_text(target),
        )
        top = center[2] + size[2] / 2.0 + text_height
        label.pose = Pose(position=Point(x=center[0], y=center[1], z=top))
        label.scale = Vector3(x=0.0, y=0.0, z=float(text_height))
        label.color = ColorRGBA(r=r, g=g, b=b, a=1.0)
        markers += [box, label]
    return MarkerArray(markers=markers)


def _outline(box: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    box = np.asarray(box, dtype=np.float64)
    if box.shape == (4,):  # x0, y0, x1, y1
        x0, y0, x1, y1 = box.tolist()
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return [(corners[i], corners[(i + 1) % 4]) for i in range(4)]
    if box.shape == (8, 2):  # projected box_corners; NaN corners are behind the camera
        return [
            (tuple(box[i]), tuple(box[j])) for i, j in BOX_EDGES if np.isfinite(box[[i, j]]).all()
        ]
    raise ValueError(f"a debug box must be (4,) [x0,y0,x1,y1] or (8,2) corners, got {box.shape}")


def draw_debug_image(
    image: np.ndarray,
    instance_image: np.ndarray | None = None,
    boxes: Sequence[np.ndarray] = (),
    labels: Sequence[str] = (),
    ids: Sequence[int] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """The camera image with instance masks tinted and boxes + labels drawn, all in the
    marker palette; returns a new (H,W,3) uint8 RGB array."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"debug image must be (H,W,3) uint8, got {image.shape} {image.dtype}")
    ids = list(range(len(boxes))) if ids is None else list(ids)
    if len(ids) != len(boxes) or (labels and len(labels) != len(boxes)):
        raise ValueError(f"{len(boxes)} boxes, {len(ids)} ids, {len(labels)} labels")
    out = image.copy()
    if instance_image is not None:
        instance_image = np.asarray(instance_image)
        if instance_image.shape != image.shape[:2]:
            raise ValueError(
                f"instance image {instance_image.shape} != image size {image.shape[:2]}"
            )
        hit = instance_image >= 0
        tint = colors_for_ids(instance_image[hit]).astype(np.float32)
        out[hit] = np.rint((1 - alpha) * out[hit].astype(np.float32) + alpha * tint).astype(
            np.uint8
        )
    canvas = PilImage.fromarray(out)
    draw = ImageDraw.Draw(canvas)
    for k, box in enumerate(boxes):
        color = tuple(int(v) for v in colors_for_ids([ids[k]])[0])
        segments = _outline(box)
        for a, b in segments:
            draw.line([a, b], fill=color, width=2)
        if labels and segments:
            xs = [p[0] for seg in segments for p in seg]
            ys = [p[1] for seg in segments for p in seg]
            anchor = (max(min(xs), 0.0), max(min(ys) - 12.0, 0.0))
            text_box = draw.textbbox(anchor, labels[k])
            draw.rectangle(text_box, fill=color)
            draw.text(anchor, labels[k], fill=(0, 0, 0))
    return np.asarray(canvas)
