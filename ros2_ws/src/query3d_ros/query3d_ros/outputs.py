"""Everything the node publishes for one run, all stamped with the source cloud's header.

Publishers are made when the node activates and destroyed when it deactivates."""

from __future__ import annotations

from typing import Any

import numpy as np
from query3d_msgs.msg import QueryResult as QueryResultMsg
from query3d_msgs.msg import Timings
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from query3d.model.output import QueryResult
from query3d_ros import topics
from query3d_ros.conversions import mask_image, numpy_to_cloud, numpy_to_image
from query3d_ros.markers import draw_debug_image, make_marker_array, project_box
from query3d_ros.qos import COMMAND, RELIABLE

try:  # vision_msgs is on robots with a full ROS install, not on pip installs
    from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose
except ImportError:  # pragma: no cover - depends on the machine
    Detection3DArray = None


class OutputPublishers:
    def __init__(self, node, p) -> None:
        self.node, self.p = node, p
        self.objects = node.create_publisher(PointCloud2, topics.OUTPUT_OBJECTS, RELIABLE)
        self.mask = node.create_publisher(PointCloud2, topics.OUTPUT_MASK, RELIABLE)
        self.markers = node.create_publisher(MarkerArray, topics.OUTPUT_MARKERS, RELIABLE)
        self.mask_image = node.create_publisher(Image, topics.OUTPUT_MASK_IMAGE, RELIABLE)
        self.debug_image = node.create_publisher(Image, topics.OUTPUT_DEBUG_IMAGE, RELIABLE)
        self.active = node.create_publisher(String, topics.OUTPUT_ACTIVE_COMMAND, COMMAND)
        self.latency = node.create_publisher(Timings, topics.OUTPUT_LATENCY, RELIABLE)
        self.result = node.create_publisher(QueryResultMsg, topics.OUTPUT_RESULT, RELIABLE)
        self.detections = None
        if Detection3DArray is not None:
            self.detections = node.create_publisher(Detection3DArray, topics.OUTPUT_DETECTIONS,
                                                    RELIABLE)

    def destroy(self) -> None:
        for pub in (self.objects, self.mask, self.markers, self.mask_image, self.debug_image,
                    self.active, self.latency, self.result, self.detections):
            if pub is not None:
                self.node.destroy_publisher(pub)

    def active_command(self, text: str) -> None:
        self.active.publish(String(data=text))

    def answer(self, msg: QueryResultMsg) -> None:
        """The typed result and its stamped timings (also for runs that failed)."""
        self.latency.publish(msg.timings)
        self.result.publish(msg)

    def publish(self, frame, result: QueryResult, cameras: list) -> None:
        """``result`` answers for every point of ``frame`` (the Segmenter's point policy);
        ``cameras``: the views the run used. The typed result goes out with ``answer``."""
        header = frame.header
        ids = result.instance_mask().astype(np.int32)
        scores = np.zeros(len(frame.points), dtype=np.float32)
        for t in result.targets:
            scores[t.point_indices] = np.maximum(scores[t.point_indices], t.point_scores)
        hit = np.flatnonzero(ids >= 0)
        colors = frame.colors
        self.objects.publish(numpy_to_cloud(
            header, frame.points[hit], None if colors is None else colors[hit],
            extra_fields={"instance": ids[hit], "score": scores[hit],
                          "index": hit.astype(np.uint32)}))  # back into the source cloud
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
