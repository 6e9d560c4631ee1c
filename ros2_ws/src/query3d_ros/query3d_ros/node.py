"""query3d_node: text command + point cloud (+ camera) in; masks, boxes, markers out.

A thin node around the ROS-free core: messages -> numpy (``conversions``) -> ``Segmenter``
-> ``QueryResult`` -> messages (``outputs``). Inference runs on the worker thread; the
callbacks only convert and hand over the newest frame. Bad input is logged, counted in
diagnostics and dropped without losing the last good frame.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import String

from query3d.data.sample import CameraView
from query3d_ros.conversions import (
    camera_info_to_model,
    cloud_to_numpy,
    finite_mask,
    image_to_rgb,
    validate_transform,
)
from query3d_ros.diagnostics import NodeHealth, diagnostic_array
from query3d_ros.extrinsics import TfExtrinsics, pose_to_matrix
from query3d_ros.outputs import OutputPublishers
from query3d_ros.params import BY_NAME, PARAMS
from query3d_ros.qos import COMMAND, qos_by_name
from query3d_ros.segmenter import build_segmenter
from query3d_ros.spin import spin_until_shutdown
from query3d_ros.sync import make_synchronizer, stamp_to_ns
from query3d_ros.worker import Frame, InferenceWorker

MAX_COMMAND_CHARS = 2000  # longer commands are cut (the text encoder truncates anyway)


def _or_default(threshold: float) -> float | None:
    """Negative thresholds mean: use the value the checkpoint was calibrated with."""
    return None if threshold < 0 else threshold


class Query3DNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("query3d_node", **kwargs)
        for spec in PARAMS:
            self.declare_parameter(spec.name, spec.default, ParameterDescriptor(
                description=spec.description, read_only=not spec.dynamic))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.health = NodeHealth()
        self._rng = np.random.default_rng(0)
        self._last_camera: tuple[int, Any] | None = None  # (stamp ns, CameraView)
        self.tf = TfExtrinsics(self, self.p("use_tf"))
        self.segmenter = None
        try:
            self.segmenter = build_segmenter(self.p)
            self.health.backend = self.segmenter.backend_name
            self.health.model_ok = True
            self.get_logger().info(
                f"model ready: {self.segmenter.describe()} (backend {self.health.backend})")
            if self.p("warm_up"):
                threading.Thread(target=self._warm_up, name="query3d-warm-up",
                                 daemon=True).start()
        except Exception as exc:  # the node stays up and reports why it cannot run
            self.health.model_error = str(exc)
            self.get_logger().error(f"cannot load the model: {exc}")
        self.outputs = OutputPublishers(self, self.p)
        self.worker = InferenceWorker(self._run, self._done, mode=self.p("mode"),
                                      max_rate=self.p("max_rate"))
        self.create_subscription(PointCloud2, self.p("points_topic"), self._on_cloud,
                                 qos_by_name(self.p("points_qos")))
        self.create_subscription(String, self.p("command_topic"), self._on_command, COMMAND)
        if self.p("use_images"):
            self.sync = make_synchronizer(
                self, [(Image, self.p("image_topic"), qos_by_name(self.p("image_qos"))),
                       (CameraInfo, self.p("camera_info_topic"),
                        qos_by_name(self.p("image_qos")))],
                slop=self.p("sync_slop"), queue=self.p("sync_queue_size"))
            self.sync.register_callback(self._on_camera)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.p("diagnostics_period"), self._publish_diagnostics)

    def p(self, name: str) -> Any:
        return self.get_parameter(name).value

    # -- parameters -----------------------------------------------------------------
    def _on_set_parameters(self, params: list) -> SetParametersResult:
        for param in params:
            spec = BY_NAME.get(param.name)
            value = param.value
            if spec is None:
                continue
            problem = None
            if param.name.endswith("_threshold") and value > 1.0:
                problem = f"{param.name} must be in [0, 1] (or < 0 for the default), got {value}"
            elif param.name == "mode" and value not in ("once", "continuous"):
                problem = f"mode must be 'once' or 'continuous', got {value!r}"
            elif param.name in ("max_rate", "input_timeout", "sync_slop") and value <= 0:
                problem = f"{param.name} must be > 0, got {value}"
            elif param.name == "image_wait" and value < 0:
                problem = f"image_wait must be >= 0, got {value}"
            elif param.name in ("max_points", "min_target_points") and value < 1:
                problem = f"{param.name} must be >= 1, got {value}"
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        for param in params:
            if param.name == "mode":
                self.worker.mode = param.value
            elif param.name == "max_rate":
                self.worker.max_rate = param.value
        return SetParametersResult(successful=True)

    def _warm_up(self) -> None:
        """Export/load the graphs before the first command needs them (ONNX export of a
        checkpoint takes about a minute); a command that comes first simply waits."""
        graphs = [False, True] if self.p("use_images") else [False]
        for with_images in graphs:
            what = "camera" if with_images else "points-only"
            start = time.monotonic()
            try:
                self.segmenter.warmup(with_images)
            except Exception as exc:  # the first real frame will report it again
                self.get_logger().warning(f"warm-up of the {what} graph failed: {exc}")
                return
            self.get_logger().info(f"{what} graph warm ({self.health.backend}) in "
                                   f"{time.monotonic() - start:.1f} s")

    # -- inputs -----------------------------------------------------------------------
    def _reject(self, what: str, problem: str) -> None:
        self.health.rejected_inputs += 1
        self.health.error(f"{what}: {problem}")
        self.get_logger().warning(f"ignored {what}: {problem}")

    def _on_cloud(self, msg: PointCloud2) -> None:
        self.health.clouds.tick()
        try:
            cloud = cloud_to_numpy(msg)
        except ValueError as exc:
            self._reject("point cloud", str(exc))
            return
        finite = finite_mask(cloud.points)
        if not finite.any():
            self._reject("point cloud", f"no finite points among {len(cloud.points)} "
                         "(empty or all-NaN cloud); keeping the previous frame")
            return
        self.worker.submit_frame(Frame(
            header=msg.header, points=cloud.points, colors=cloud.colors,
            cameras=self._paired_camera(msg.header),
            organized_shape=cloud.organized_shape))

    def _paired_camera(self, header) -> list:
        """The last camera view if its stamp is within ``sync_slop`` of the cloud's."""
        if self._last_camera is None:
            return []
        cam_stamp, camera = self._last_camera
        if abs(cam_stamp - stamp_to_ns(header.stamp)) > self.p("sync_slop") * 1e9:
            return []
        from_tf = self.tf.lookup(header.frame_id, camera.name, header.stamp)
        return [camera if from_tf is None else replace(camera, T_world_cam=from_tf)]

    def _camera_expected(self) -> bool:
        """Images are streaming, or an image publisher exists (the first image may still be
        on its way: a 1 MB image can take longer than its cloud to arrive)."""
        last = self.health.images.last
        if last is not None and time.monotonic() - last < self.p("input_timeout"):
            return True
        sub = self.sync.subscriptions[0]
        return getattr(sub, "sub", sub).get_publisher_count() > 0

    def _on_camera(self, image: Image, info: CameraInfo) -> None:
        self.health.images.tick()
        try:
            model = camera_info_to_model(info)
            rgb = image_to_rgb(image)
            if rgb.shape[:2] != (model.height, model.width):
                raise ValueError(f"image is {rgb.shape[1]}x{rgb.shape[0]} but camera_info "
                                 f"says {model.width}x{model.height}")
            T_cloud_cam = validate_transform(pose_to_matrix(self.p("camera_to_cloud")))
        except ValueError as exc:
            self._reject("camera input", str(exc))
            return
        view = CameraView(image=rgb, K=model.K, T_world_cam=T_cloud_cam,
                          name=image.header.frame_id or "camera")
        self._last_camera = (stamp_to_ns(image.header.stamp), view)
        # the image of a cloud often arrives just after it: complete that frame
        frame = self.worker.newest_frame()
        if frame is not None and not frame.cameras:
            frame.cameras = self._paired_camera(frame.header)

    def _on_command(self, msg: String) -> None:
        self.health.commands.tick()
        text = " ".join(msg.data.split())
        if not text:
            self._reject("command", "empty text")
            return
        if len(text) > MAX_COMMAND_CHARS:
            self.get_logger().warning(
                f"command has {len(text)} characters; using the first {MAX_COMMAND_CHARS}")
            text = text[:MAX_COMMAND_CHARS]
        self.get_logger().info(f"command: {text!r}" + (
            "" if self.worker.has_frame else " (waiting for the first point cloud)"))
        self.outputs.active_command(text)
        self.worker.submit_command(text)

    # -- inference (worker thread) ----------------------------------------------------
    def _run(self, frame: Frame, command: str):
        if self.segmenter is None:
            raise RuntimeError(f"model not loaded: {self.health.model_error}")
        cameras = self._cameras_for(frame)
        finite = np.flatnonzero(finite_mask(frame.points))
        keep = finite
        if len(keep) > self.p("max_points"):
            keep = np.sort(self._rng.choice(keep, self.p("max_points"), replace=False))
            self.get_logger().warning(
                f"cloud has {len(finite)} finite points; subsampled to {len(keep)} "
                "(parameter max_points)", throttle_duration_sec=10.0)
        colors = None if frame.colors is None else frame.colors[keep]
        result = self.segmenter.segment(
            frame.points[keep], colors, cameras=cameras, text=command,
            score_threshold=_or_default(self.p("score_threshold")),
            mask_threshold=_or_default(self.p("mask_threshold")),
            min_target_points=self.p("min_target_points"))
        return keep, result, cameras

    def _cameras_for(self, frame: Frame) -> list:
        """The camera views a run uses, read once so outputs report what the network saw.

        A camera image is larger than its cloud and often arrives after it, so while a
        camera publishes, the run gives the image up to ``image_wait`` seconds (a late image
        completes the frame in ``_on_camera``)."""
        if frame.cameras or not self.p("use_images") or not self._camera_expected():
            return list(frame.cameras)
        end = time.monotonic() + self.p("image_wait")
        while not frame.cameras and time.monotonic() < end:
            time.sleep(0.002)
        cameras = list(frame.cameras)
        if not cameras:  # a camera publishes, but not this cloud's image
            problem = (f"no camera image within sync_slop={self.p('sync_slop')} s of the cloud "
                       f"stamped {stamp_to_ns(frame.header.stamp) / 1e9:.3f} arrived within "
                       f"image_wait={self.p('image_wait')} s; ran on the points only")
            self.health.sync_failed(problem)
            self.get_logger().warning(problem, throttle_duration_sec=10.0)
        return cameras

    def _done(self, frame: Frame, command: str, output, error, latency_s: float) -> None:
        latency_ms = latency_s * 1000.0
        self.health.last_latency_ms = latency_ms
        if error is not None:
            self.health.error(f"inference failed: {error}")
            self.get_logger().error(f"inference failed for {command!r}: {error}")
            self.outputs.result_error(frame, command, str(error), latency_ms)
            return
        keep, result, cameras = output
        self.outputs.publish(frame, command, keep, result, latency_ms, cameras)
        names = ", ".join(f"{t.label}({t.score:.2f})" for t in result.targets) or "no target"
        self.get_logger().info(f"{command!r}: {names} in {latency_ms:.0f} ms "
                               f"({len(cameras)} camera image(s))")

    def _publish_diagnostics(self) -> None:
        status = self.health.status(f"{self.get_fully_qualified_name()}: segmentation",
                                    "query3d", self.p("input_timeout"))
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), status))

    def destroy_node(self) -> None:
        self.worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    return spin_until_shutdown(Query3DNode(), MultiThreadedExecutor(num_threads=2))


if __name__ == "__main__":
    raise SystemExit(main())
