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
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header, String

from query3d.data.sample import CameraView
from query3d.geometry import RangeLimits
from query3d_ros.command_text import clean_command
from query3d_ros.conversions import (
    camera_info_to_model,
    cloud_to_numpy,
    finite_mask,
    image_to_rgb,
    validate_transform,
)
from query3d_ros.diagnostics import NodeHealth, diagnostic_array
from query3d_ros.extrinsics import TfExtrinsics, pose_to_matrix
from query3d_ros.frames import CloudFrames
from query3d_ros.input_watch import InputWatch, WatchedInput
from query3d_ros.log_bridge import forward_core_logs
from query3d_ros.outputs import OutputPublishers
from query3d_ros.params import BY_NAME, PARAMS, InvalidParameters, defaults, descriptor
from query3d_ros.qos import COMMAND, qos_by_name
from query3d_ros.segmenter import build_segmenter
from query3d_ros.spin import spin_until_shutdown
from query3d_ros.sync import CloudCameraSync, make_synchronizer, stamp_to_ns
from query3d_ros.worker import Frame, InferenceWorker

MAX_COMMAND_CHARS = 2000  # longer commands are cut (the text encoder truncates anyway)
# declared by rclpy itself, so not ours to refuse
RCL_PARAMETERS = ("use_sim_time", "start_type_description_service")


def _or_default(threshold: float) -> float | None:
    """Negative thresholds mean: use the value the checkpoint was calibrated with."""
    return None if threshold < 0 else threshold


class Query3DNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("query3d_node", **kwargs)
        self._declare_parameters()
        self.range_limits = self._range_limits()
        forward_core_logs(self.get_logger())
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.health = NodeHealth()
        self.camera_sync = CloudCameraSync(history=self.p("sync_queue_size"))
        self.tf = TfExtrinsics(self, self.p("use_tf"))
        self.frames = CloudFrames(self.p, self.tf)
        # one group per concern: a slow cloud never holds up commands, camera or timers
        self.groups = {name: MutuallyExclusiveCallbackGroup()
                       for name in ("commands", "cloud", "camera", "timers")}
        self.segmenter = None
        try:
            self.segmenter = build_segmenter(self.p)
            self.health.backend = self.segmenter.backend_name
            self.health.model_ok = True
            self.get_logger().info(f"model ready: {self.segmenter.describe()}")
            if self.p("warm_up"):
                threading.Thread(target=self._warm_up, name="query3d-warm-up",
                                 daemon=True).start()
        except Exception as exc:  # the node stays up and reports why it cannot run
            self.health.model_error = str(exc)
            self.get_logger().error(f"cannot load the model: {exc}")
        self.outputs = OutputPublishers(self, self.p)
        self.worker = InferenceWorker(self._run, self._done, mode=self.p("mode"),
                                      max_rate=self.p("max_rate"))
        cloud_sub = self.create_subscription(
            PointCloud2, self.p("points_topic"), self._on_cloud,
            qos_by_name(self.p("points_qos")), callback_group=self.groups["cloud"])
        self.create_subscription(String, self.p("command_topic"), self._on_command, COMMAND,
                                 callback_group=self.groups["commands"])
        watched = [WatchedInput("points", cloud_sub, qos_by_name(self.p("points_qos")),
                                lambda: self.health.clouds.last, "points_qos")]
        if self.p("use_images"):
            self.sync = make_synchronizer(
                self, [(Image, self.p("image_topic"), qos_by_name(self.p("image_qos"))),
                       (CameraInfo, self.p("camera_info_topic"),
                        qos_by_name(self.p("image_qos")))],
                slop=self.p("sync_slop"), queue=self.p("sync_queue_size"),
                callback_group=self.groups["camera"])
            self.sync.register_callback(self._on_camera)
            watched.append(WatchedInput("image", self.sync.subscriptions[0],
                                        qos_by_name(self.p("image_qos")),
                                        lambda: self.health.images.last, "image_qos"))
        self.input_watch = InputWatch(self, watched, lambda: self.p("input_silence_warn"),
                                      self.health.set_condition, self._expect_clouds)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.p("diagnostics_period"), self._publish_diagnostics,
                          callback_group=self.groups["timers"])
        self.create_timer(1.0, self.input_watch.check, callback_group=self.groups["timers"])

    def p(self, name: str) -> Any:
        return self.get_parameter(name).value

    # -- parameters -----------------------------------------------------------------
    def _declare_parameters(self) -> None:
        """Check every given value (command line, params file) against its spec, then
        declare all with the package's YAML defaults and typed descriptors. Any invalid
        or unknown value raises ``InvalidParameters`` before anything starts."""
        problems = []
        for name, given in list(self._parameter_overrides.items()):
            spec = BY_NAME.get(name)
            if spec is None:
                if name not in RCL_PARAMETERS and not name.startswith("qos_overrides."):
                    problems.append(f"parameter {name!r} is not a query3d_node parameter")
                continue
            problem = spec.problem(given.value)
            if problem:
                problems.append(problem)
            elif spec.kind is float and given.type_ == Parameter.Type.INTEGER:
                # `-p max_rate:=2` means 2.0: rclpy would refuse an integer for a double
                self._parameter_overrides[name] = Parameter(name, Parameter.Type.DOUBLE,
                                                            float(given.value))
        if problems:
            raise InvalidParameters("\n".join(problems))
        values = defaults()
        for spec in PARAMS:
            self.declare_parameter(spec.name, values[spec.name], descriptor(spec))

    def _range_limits(self) -> RangeLimits:
        """The range filter's limits; pairs that contradict each other stop the node."""
        try:
            return RangeLimits(self.p("min_range"), self.p("max_range"),
                               self.p("z_min"), self.p("z_max"))
        except ValueError as exc:
            raise InvalidParameters(f"range filter parameters: {exc}") from exc

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        for param in params:
            spec = BY_NAME.get(param.name)
            problem = spec.problem(param.value) if spec is not None else None
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        for param in params:
            if param.name == "mode":
                self.worker.mode = param.value
            elif param.name == "max_rate":
                self.worker.max_rate = param.value
        return SetParametersResult(successful=True)

    def _warm_up(self) -> None:
        """Run each graph once off the command path. Nothing here is waited for: a
        checkpoint serves with torch at once, and a due ONNX export (onnxruntime /
        tensorrt) runs in the background and is switched to when ready."""
        graphs = [False, True] if self.p("use_images") else [False]
        for with_images in graphs:
            what = "camera" if with_images else "points-only"
            start = time.monotonic()
            try:
                self.segmenter.warmup(with_images)
            except Exception as exc:  # the first real frame will report it again
                self.get_logger().warning(f"warm-up of the {what} graph failed: {exc}")
                return
            self.get_logger().info(f"{what} graph warm ({self.segmenter.serving(with_images)})"
                                   f" in {time.monotonic() - start:.1f} s")

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
        placement, dropped = self.frames.prepare(msg.header, cloud.points, self.range_limits)
        self.health.facts.update(cloud_frame=msg.header.frame_id, frame_transform=placement.how,
                                 network_frame=placement.frame_id, filtered_points=str(dropped))
        self.health.set_condition("frame", placement.problem)
        if placement.problem:
            self.get_logger().warning(placement.problem, throttle_duration_sec=10.0)
        if not finite_mask(placement.points).any():
            self._reject("point cloud", f"all {int(finite.sum())} finite points are outside "
                         f"the range filter ({self.range_limits}); keeping the previous frame")
            return
        self.worker.submit_frame(Frame(
            header=Header(stamp=msg.header.stamp, frame_id=placement.frame_id),
            points=placement.points, colors=cloud.colors, organized_shape=cloud.organized_shape,
            source_frame=msg.header.frame_id, placement=placement))

    def _camera_expected(self) -> bool:
        """Images are streaming, or an image publisher exists (the first image may still be
        on its way: a 1 MB image can take longer than its cloud to arrive)."""
        last = self.camera_sync.last_view_at
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
        self.camera_sync.add_view(image.header.stamp, view, time.monotonic())

    def _on_command(self, msg: String) -> None:
        self.health.commands.tick()
        text, problem = clean_command(msg.data)
        if problem:
            self._reject("command", problem)
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
        # the Segmenter owns the point policy: finite filter, density, a label per point
        result = self.segmenter.segment(
            frame.points, frame.colors, cameras=cameras, text=command,
            score_threshold=_or_default(self.p("score_threshold")),
            mask_threshold=_or_default(self.p("mask_threshold")),
            min_target_points=self.p("min_target_points"))
        return result, cameras

    def _cameras_for(self, frame: Frame) -> list:
        """The camera views a run uses (what the outputs report the network saw).

        A camera image is larger than its cloud and often arrives after it, so while a
        camera publishes, the run waits up to ``image_wait`` seconds for the image."""
        if not self.p("use_images"):
            return []
        wait = self.p("image_wait") if self._camera_expected() else 0.0
        view = self.camera_sync.view_for(frame.header.stamp, self.p("sync_slop"), wait)
        if view is not None:
            placed, problem = self.frames.camera(frame.source_frame, frame.placement, view,
                                                 frame.header.stamp)
            self.health.set_condition("camera_frame", problem)
            if problem:
                self.get_logger().warning(problem, throttle_duration_sec=10.0)
            return [placed]
        cameras: list = []
        if wait > 0:  # a camera publishes, but not this cloud's image
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
        result, cameras = output
        self.outputs.publish(frame, command, result, latency_ms, cameras)
        names = ", ".join(f"{t.label}({t.score:.2f})" for t in result.targets) or "no target"
        self.get_logger().info(f"{command!r}: {names} in {latency_ms:.0f} ms "
                               f"({len(cameras)} camera image(s))")

    def _expect_clouds(self) -> bool:
        """Clouds are due: a command streams (continuous) or waits for its first cloud.
        On demand (mode once, nothing waiting) a quiet sensor is idle, not stale."""
        if self.worker.command is None:
            return False
        return self.p("mode") == "continuous" or not self.worker.has_frame

    def _publish_diagnostics(self) -> None:
        status = self.health.status(f"{self.get_fully_qualified_name()}: segmentation",
                                    "query3d", self.p("input_timeout"),
                                    expect_clouds=self._expect_clouds())
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), status))

    def destroy_node(self) -> None:
        worker = getattr(self, "worker", None)  # absent when start-up was refused
        if worker is not None:
            worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    try:
        node = Query3DNode()
    except InvalidParameters as exc:  # nothing started: say why and exit non-zero
        for line in str(exc).splitlines():
            print(f"query3d_node: {line}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    return spin_until_shutdown(node, MultiThreadedExecutor(num_threads=4))


if __name__ == "__main__":
    raise SystemExit(main())
