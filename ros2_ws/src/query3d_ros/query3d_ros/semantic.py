"""Open-vocabulary labels on the node: a class list in, every point of the newest cloud
labelled with one of its names out (the same network and checkpoint as commands).

Input: ``std_msgs/String`` "mug, bowl, box, table" on ``~/input/classes`` (a fixed
private name like every input: the launch file's ``classes`` argument remaps it; reliable
+ transient local, like commands: the newest list stays active; an empty string stops
labelling). Each new cloud is labelled with the
active list, and a new list relabels the newest cloud. Outputs, stamped with the source
cloud's header: ``~/output/semantic`` (PointCloud2: the input cloud, organized when it
was, with ``semantic`` int32 = index into the list, -1 = not a finite point, and
``semantic_score`` float32) and ``~/output/semantic_legend`` (String, JSON: stamp, frame,
each class's id, name, RViz colour and point count). Labelling runs on its own thread and
only ever on the newest (cloud, list) pair: a slow run skips stale clouds, never queues
them.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from query3d.model.heads.semantic import parse_class_list
from query3d.viz import colors_for_ids
from query3d_ros import topics
from query3d_ros.conversions import numpy_to_cloud
from query3d_ros.inputs import cameras_for
from query3d_ros.qos import COMMAND, RELIABLE
from query3d_ros.sync import stamp_to_ns


def legend(header: Any, result: Any) -> dict[str, Any]:
    counts = result.points_per_class()
    colours = colors_for_ids(np.arange(len(result.classes)))
    return {
        "stamp_ns": stamp_to_ns(header.stamp), "frame_id": header.frame_id,
        "classes": [{"id": i, "name": name, "color_rgb": [int(c) for c in colours[i]],
                     "points": counts[name]} for i, name in enumerate(result.classes)],
        "unlabelled_points": int(np.sum(result.labels < 0)),
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
    }


class SemanticLabelling:
    """Made on activate, destroyed on deactivate (with its thread)."""

    def __init__(self, node: Any, callback_group: Any = None) -> None:
        self.node = node
        self.classes: list[str] | None = None
        self._frame: Any = None
        self._done_key: tuple[int, int] | None = None  # (frame id, list version) labelled
        self._version = 0
        self._wake = threading.Condition()
        self._stop = False
        self.cloud = node.create_publisher(PointCloud2, topics.OUTPUT_SEMANTIC, RELIABLE)
        self.legend = node.create_publisher(String, topics.OUTPUT_SEMANTIC_LEGEND, COMMAND)
        self.sub = node.create_subscription(String, topics.INPUT_CLASSES, self._on_classes,
                                            COMMAND, callback_group=callback_group)
        self._thread = threading.Thread(target=self._loop, name="query3d-semantic",
                                        daemon=True)
        self._thread.start()

    def destroy(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._thread.join(timeout=30.0)
        self.node.destroy_subscription(self.sub)
        self.node.destroy_publisher(self.cloud)
        self.node.destroy_publisher(self.legend)

    def _on_classes(self, msg: String) -> None:
        if not msg.data.strip():
            with self._wake:
                self.classes = None
            self.node.get_logger().info("class list cleared: semantic labelling stopped")
            return
        try:
            classes = parse_class_list(msg.data)
            segmenter = self.node.segmenter
            if segmenter is not None and not segmenter.has_semantic_head:
                raise ValueError("the loaded checkpoint has no semantic head (train one "
                                 "with `query3d train --task semantic`)")
        except ValueError as exc:
            self.node._reject("class list", f"{exc}; keeping the previous list")
            return
        with self._wake:
            self.classes, self._version = classes, self._version + 1
            self._wake.notify_all()
        waiting = "" if self._frame is not None else " (waiting for the first point cloud)"
        self.node.get_logger().info(f"class list {self._version}: {', '.join(classes)}"
                                    + waiting)

    def submit_frame(self, frame: Any) -> None:
        with self._wake:
            self._frame = frame
            self._wake.notify_all()

    def _next(self) -> tuple[Any, list[str]] | None:
        with self._wake:
            while not self._stop:
                frame, classes = self._frame, self.classes
                key = (id(frame), self._version)
                if frame is not None and classes is not None and key != self._done_key:
                    self._done_key = key
                    return frame, classes
                self._wake.wait()
        return None

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            frame, classes = job
            segmenter = self.node.segmenter
            if segmenter is None:
                continue
            start = time.perf_counter()
            try:
                cameras = cameras_for(self.node, frame, None)
                result = segmenter.label(frame.points, frame.colors, cameras=cameras,
                                         classes=classes)
                self._publish(frame, result)
            except Exception as exc:  # a failed run is reported; the node keeps serving
                self.node.health.error(f"semantic labelling failed: {exc}")
                self.node.get_logger().error(f"semantic labelling of "
                                             f"{', '.join(classes)} failed: {exc}")
                continue
            shares = ", ".join(f"{k} {v}" for k, v in result.points_per_class().items())
            self.node.get_logger().info(f"labelled {result.num_points} points ({shares}) in "
                                        f"{(time.perf_counter() - start) * 1e3:.0f} ms")

    def _publish(self, frame: Any, result: Any) -> None:
        labels = result.labels.astype(np.int32)
        shape = frame.organized_shape
        points = frame.points if shape is None else frame.points.reshape(*shape, 3)
        colors = frame.colors
        if colors is not None and shape is not None:
            colors = colors.reshape(*shape, 3)
        lead = points.shape[:-1]
        self.cloud.publish(numpy_to_cloud(
            frame.header, points, colors,
            extra_fields={"semantic": labels.reshape(lead),
                          "semantic_score": result.scores.reshape(lead)}))
        self.legend.publish(String(data=json.dumps(legend(frame.header, result))))
