"""Everything the node publishes for one run, all stamped with the source cloud's header."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from query3d.model.output import QueryResult
from query3d_ros.conversions import mask_image, numpy_to_cloud, numpy_to_image
from query3d_ros.latency import latency_message
from query3d_ros.markers import draw_debug_image, make_marker_array, project_box
from query3d_ros.qos import COMMAND, RELIABLE

try:  # vision_msgs is on robots with a full ROS install, not on pip installs
    from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose
except ImportError:  # pragma: no cover - depends on the machine
    Detection3DArray = None


def _stamp_seconds(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class OutputPublishers:
    def __init__(self, node, p) -> None:
        self.node, self.p = node, p
        self.objects = node.create_publisher(PointCloud2, p("objects_topic"), RELIABLE)
        self.mask = node.create_publisher(PointCloud2, p("mask_topic"), RELIABLE)
        self.markers = node.create_publisher(MarkerArray, p("markers_topic"), RELIABLE)
        self.mask_image = node.create_publisher(Image, p("mask_image_topic"), RELIABLE)
        self.debug_image = node.create_publisher(Image, p("debug_image_topic"), RELIABLE)
        self.active = node.create_publisher(String, p("active_command_topic"), COMMAND)
        self.latency = node.create_publisher(DiagnosticArray, p("latency_topic"), RELIABLE)
        self.result = node.create_publisher(String, p("result_topic"), RELIABLE)
        self.detections = None
        if Detection3DArray is not None:
            self.detections = node.create_publisher(Detection3DArray, p("detections_topic"),
                                                    RELIABLE)

    def active_command(self, text: str) -> None:
        self.active.publish(String(data=text))

    def result_error(self, frame, command: str, error: str, latency_ms: float) -> None:
        self.latency.publish(latency_message(frame.header, latency_ms, {}, command, ok=False))
        self.result.publish(String(data=json.dumps({
            "command": command, "stamp": _stamp_seconds(frame.header), "error": error,
            "latency_ms": latency_ms, "num_points": int(len(frame.points)), "targets": [],
            "no_target": True})))

    def publish(self, frame, command: str, result: QueryResult, latency_ms: float,
                cameras: list) -> None:
        """``result`` answers for every point of ``frame`` (the Segmenter's point policy);
        ``cameras``: the views the run used."""
        header = frame.header
        ids = result.instance_mask().astype(np.int32)
        scores = np.zeros(len(frame.points), dtype=np.float32)
        for t in result.targets:
            scores[t.point_indices] = np.maximum(scores[t.point_indices], t.point_scores)
        hit = np.flatnonzero(ids >= 0)
        colors = frame.colors
        self.objects.publish(numpy_to_cloud(
            header, frame.points[hit], None if colors is None else colors[hit],
            extra_fields={"instance": ids[hit], "score": scores[hit]}))
        shape = frame.organized_shape
        pts = frame.points if shape is None else frame.points.reshape(*shape, 3)
        cols = None if colors is None or shape is None else colors.reshape(*shape, 3)
        self.mask.publish(numpy_to_cloud(
            header, pts, colors if shape is None else cols,
            extra_fields={"instance": ids if shape is None else ids.reshape(shape)}))
        self.markers.publish(make_marker_array(result.targets, header,
                                               lifetime_s=self.p("marker_lifetime")))
        self._camera_outputs(frame, cameras, ids, result)
        if self.detections is not None:
            self.detections.publish(self._detections(header, result))
        self.latency.publish(latency_message(header, latency_ms, result.timings_ms, command))
        summary = result.summary()
        summary.update(stamp=_stamp_seconds(header), frame_id=header.frame_id,
                       latency_ms=latency_ms, num_points=int(len(frame.points)),
                       cameras=len(cameras))
        self.result.publish(String(data=json.dumps(summary)))

    def _camera_outputs(self, frame, cameras: list, ids: np.ndarray,
                        result: QueryResult) -> None:
        if not cameras:
            return
        cam = cameras[0]
        h, w = cam.image.shape[:2]
        T_cam_cloud = np.linalg.inv(cam.T_world_cam)
        finite = np.isfinite(frame.points).all(axis=1)
        instance = mask_image(frame.points[finite], ids[finite], cam.K, T_cam_cloud, w, h)
        header = frame.header.__class__(stamp=frame.header.stamp, frame_id=cam.name)
        self.mask_image.publish(numpy_to_image(header, instance, "32SC1"))
        if not self.p("publish_debug_image"):
            return
        boxes = [project_box(t.box_center, t.box_size, t.box_yaw, cam.K, T_cam_cloud)
                 for t in result.targets]
        labels = [f"{t.label} {t.score:.2f}" for t in result.targets]
        debug = draw_debug_image(cam.image, instance, boxes, labels,
                                 ids=[t.target_id for t in result.targets])
        self.debug_image.publish(numpy_to_image(header, debug, "rgb8"))

    def _detections(self, header, result: QueryResult) -> Any:
        from query3d_ros.markers import yaw_to_quaternion

        out = Detection3DArray(header=header)
        for t in result.targets:
            det = Detection3D(header=header)
            det.bbox.center.position.x, det.bbox.center.position.y, \
                det.bbox.center.position.z = (float(v) for v in t.box_center)
            det.bbox.center.orientation = yaw_to_quaternion(float(t.box_yaw))
            det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = (float(v) for v in t.box_size)
            hyp = ObjectHypothesisWithPose()
            hyp.hypothesis.class_id = t.label
            hyp.hypothesis.score = float(t.score)
            det.results.append(hyp)
            det.id = str(t.target_id)
            out.detections.append(det)
        return out
