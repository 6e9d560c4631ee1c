"""The typed answer: core ``QueryResult`` -> ``query3d_msgs/QueryResult``, and back to a
plain dict (``summary``) for the CLI, the demo and logs."""

from __future__ import annotations

import array
import math
import time
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, Pose, Vector3
from query3d_msgs.msg import QueryResult, ReferredObject, Timings

from query3d.model.output import QueryResult as CoreResult
from query3d_ros.commands import Request
from query3d_ros.conversions import numpy_to_cloud
from query3d_ros.markers import yaw_to_quaternion


def stamp_seconds(header: Any) -> float:
    """A header's stamp in seconds (how answers, masks and sent clouds are matched)."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def _ms(seconds: float | None) -> float:
    return 0.0 if seconds is None else float(seconds * 1000.0)


def timings(header: Any, request: Request, inference_s: float) -> Timings:
    """Where the time of ``request`` went, measured now (just before publishing)."""
    now = time.monotonic()
    queued = None if request.started is None else request.started - request.received
    stamp_s = stamp_seconds(header)
    cloud_age = time.time() - stamp_s if stamp_s > 0 else None
    return Timings(header=header, request_id=request.id, queued_ms=_ms(queued),
                   inference_ms=_ms(inference_s), total_ms=_ms(now - request.received),
                   cloud_age_ms=_ms(cloud_age))


def referred_object(header: Any, target: Any, points: np.ndarray,
                    colors: np.ndarray | None) -> ReferredObject:
    idx = np.asarray(target.point_indices, dtype=np.int64)
    pose = Pose(position=Point(**dict(zip("xyz", (float(v) for v in target.box_center)))),
                orientation=yaw_to_quaternion(float(target.box_yaw)))
    size = Vector3(**dict(zip("xyz", (float(v) for v in target.box_size))))
    cloud = numpy_to_cloud(header, points[idx], None if colors is None else colors[idx],
                           extra_fields={"score": np.asarray(target.point_scores, np.float32)})
    indices = array.array("I")
    indices.frombytes(idx.astype(np.uint32).tobytes())
    return ReferredObject(id=int(target.target_id), label=target.label,
                          score=float(target.score), pose=pose, size=size,
                          point_indices=indices, points=cloud)


def result_message(frame: Any, request: Request, result: CoreResult | None,
                   num_cameras: int, run_timings: Timings, error: str = "") -> QueryResult:
    """The typed answer to ``request``; ``frame`` None when no cloud ever came."""
    msg = QueryResult(command=request.text, request_id=request.id, source=request.source,
                      error=error, timings=run_timings, num_cameras=num_cameras)
    if frame is not None:
        msg.header = frame.header
        msg.num_points = int(len(frame.points))
    msg.no_target = result is None or result.no_target
    if result is not None:
        msg.objects = [referred_object(frame.header, t, frame.points, frame.colors)
                       for t in result.targets]
    return msg


def _yaw(q: Any) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def summary(msg: QueryResult) -> dict:
    """A JSON-ready digest of a typed result (no per-point data)."""
    stamp = stamp_seconds(msg.header)
    return {
        "command": msg.command, "request_id": int(msg.request_id), "source": msg.source,
        "stamp": stamp, "frame_id": msg.header.frame_id, "num_points": int(msg.num_points),
        "cameras": int(msg.num_cameras), "no_target": bool(msg.no_target),
        "error": msg.error or None, "latency_ms": float(msg.timings.inference_ms),
        "timings_ms": {"queued": float(msg.timings.queued_ms),
                       "inference": float(msg.timings.inference_ms),
                       "total": float(msg.timings.total_ms),
                       "cloud_age": float(msg.timings.cloud_age_ms)},
        "targets": [{
            "target_id": int(o.id), "label": o.label, "score": float(o.score),
            "num_points": len(o.point_indices),
            "box_center": [o.pose.position.x, o.pose.position.y, o.pose.position.z],
            "box_size": [o.size.x, o.size.y, o.size.z],
            "box_yaw": _yaw(o.pose.orientation)} for o in msg.objects],
    }
