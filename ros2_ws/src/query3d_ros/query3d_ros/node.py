"""query3d_node: text command + point cloud (+ camera) in; masks, boxes, typed results out.

A thin lifecycle node around the ROS-free core: messages -> numpy (``conversions``) ->
``Segmenter`` -> typed ``query3d_msgs/QueryResult`` + display topics (``outputs``).
Lifecycle (as yolo_ros / nav2): *configure* validates the parameters and loads the model,
*activate* creates the topics, services, the action and the input watch, *deactivate*
removes them (queued requests are answered "deactivated"), *cleanup* frees the model.
``autostart`` (default) goes to active at start-up. Every cloud (topic or Segment call)
passes the range filter and is placed in ``target_frame`` (``frames``) in ``cloud_frame``.
Inference runs on the worker thread; callbacks only convert, queue and hand over the
newest frame. Bad input is logged, counted in diagnostics and dropped without losing the
last good frame.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header, String

from query3d_ros import topics
from query3d_ros.commands import (
    RUNNING,
    CommandRefused,
    ReplayGuard,
    Request,
    RequestIds,
    check_command,
    process_start_ns,
    string_from_cdr,
)
from query3d_ros.conversions import cloud_to_numpy, finite_mask
from query3d_ros.diagnostics import NodeHealth, diagnostic_array
from query3d_ros.extrinsics import TfExtrinsics
from query3d_ros.frames import CloudFrames
from query3d_ros.input_watch import InputWatch, WatchedInput
from query3d_ros.inputs import CameraInput, cameras_for
from query3d_ros.log_bridge import forward_core_logs
from query3d_ros.outputs import OutputPublishers
from query3d_ros.params import (
    BY_NAME,
    InvalidParameters,
    checkpoint_defaulted,
    declare_checked,
    validate_all,
)
from query3d_ros.params_inputs import range_limits
from query3d_ros.qos import COMMAND, qos_by_name
from query3d_ros.results import result_message, timings
from query3d_ros.segmenter import build_segmenter, warm_up
from query3d_ros.semantic import SemanticLabelling
from query3d_ros.services import RequestServers
from query3d_ros.spin import spin_until_shutdown
from query3d_ros.sync import CloudCameraSync
from query3d_ros.worker import Frame, InferenceWorker

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
NOT_CONFIGURED = "not configured (lifecycle state unconfigured: no model loaded)"


class Query3DNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("query3d_node", **kwargs)
        # invalid given values are kept out of the declarations and refused by configure
        self.parameter_problems = declare_checked(self)
        forward_core_logs(self.get_logger())
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.health = NodeHealth(model_error=NOT_CONFIGURED)
        self.request_ids = RequestIds()
        self.replay = ReplayGuard(process_start_ns())
        # one group per kind of callback: a slow one never holds up the others
        self.command_group = ReentrantCallbackGroup()  # commands, services, the action
        self.cloud_group = MutuallyExclusiveCallbackGroup()
        self.camera_group = MutuallyExclusiveCallbackGroup()
        self.timer_group = MutuallyExclusiveCallbackGroup()
        self.segmenter = self.worker = self.outputs = self.camera = self.servers = None
        self.frames = self.range_limits = self.input_watch = self.semantic = None
        self._cloud_sub = self._command_sub = self._watch_timer = None
        self._io_lock = threading.Lock()
        self.state = "unconfigured"
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.p("diagnostics_period"), self._publish_diagnostics,
                          callback_group=self.timer_group)

    def p(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        for param in params:
            spec = BY_NAME.get(param.name)
            problem = spec.problem(param.value) if spec is not None else None
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        for param in params:
            if self.worker is not None and param.name in ("mode", "max_rate"):
                setattr(self.worker, param.name, param.value)
        return SetParametersResult(successful=True)

    # -- lifecycle ----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        problems = list(self.parameter_problems)
        try:
            validate_all({name: self.p(name) for name in BY_NAME})
        except InvalidParameters as exc:
            problems += str(exc).splitlines()
        for line in problems:
            self.get_logger().error(line)
        if problems:
            return FAILURE
        try:
            self.segmenter = build_segmenter(self.p)
        except Exception as exc:  # stays unconfigured and reports why on /diagnostics
            self.health.model_ok, self.health.model_error = False, str(exc)
            self.get_logger().error(f"cannot load the model: {exc}")
            return FAILURE
        self.health.backend, self.health.model_ok = self.segmenter.backend_name, True
        self.health.model_error = ""
        self.get_logger().info(f"model ready: {self.segmenter.describe()}")
        if self.p("warm_up"):
            threading.Thread(target=warm_up, args=(self,), name="query3d-warm-up",
                             daemon=True).start()
        self.camera_sync = CloudCameraSync(history=self.p("sync_queue_size"))
        self.tf = TfExtrinsics(self, self.p("use_tf"))
        self.frames = CloudFrames(self.p, self.tf)
        self.range_limits = range_limits(self.p)
        self.worker = InferenceWorker(self._run, self._done, mode=self.p("mode"),
                                      max_rate=self.p("max_rate"),
                                      queue_size=self.p("command_queue_size"))
        self.state = "inactive"
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        with self._io_lock:
            self.outputs = OutputPublishers(self, self.p)
        if self.p("use_images"):
            # the camera first: a cloud that arrives before the image subscription has
            # matched its publisher loses its image (volatile QoS), and a command on it
            # would wait image_wait for nothing and run on the points only
            self.camera = CameraInput(self, self.camera_sync, self._reject, self.camera_group)
        self._cloud_sub = self.create_subscription(
            PointCloud2, topics.INPUT_POINTS, self._on_cloud, qos_by_name(self.p("points_qos")),
            callback_group=self.cloud_group)
        self._command_sub = self.create_subscription(
            String, topics.INPUT_COMMAND, self._on_command, COMMAND,
            callback_group=self.command_group, raw=True)
        watched = [WatchedInput("points", self._cloud_sub, qos_by_name(self.p("points_qos")),
                                lambda: self.health.clouds.last, "points_qos")]
        if self.p("use_images"):
            watched.append(WatchedInput("image", self.camera.sync.subscriptions[0],
                                        qos_by_name(self.p("image_qos")),
                                        lambda: self.health.images.last, "image_qos"))
        # names a publisher whose QoS cannot reach a subscription, or a silent one
        self.input_watch = InputWatch(self, watched, lambda: self.p("input_silence_warn"),
                                      self.health.set_condition, self._expect_clouds)
        self._watch_timer = self.create_timer(1.0, self.input_watch.check,
                                              callback_group=self.timer_group)
        self.servers = RequestServers(self, self.command_group)
        self.semantic = SemanticLabelling(self, self.command_group)  # ~/input/classes
        self.state = "active"
        self.get_logger().info("active: subscribed to ~/input/*, serving ~/segment, "
                               "~/find_object and ~/clear_command")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.state = "inactive"
        for request in self.worker.drain():
            self.get_logger().warning(f"request {request.id} {request.text[:80]!r} not run: "
                                      "the node was deactivated")
            self._answer_failed(None, request, "the node was deactivated before it ran")
        if self._watch_timer is not None:
            self.destroy_timer(self._watch_timer)
        for sub in (self._cloud_sub, self._command_sub):
            if sub is not None:
                self.destroy_subscription(sub)
        self._cloud_sub = self._command_sub = self._watch_timer = self.input_watch = None
        for key in [k for k in dict(self.health.conditions) if k.startswith("input.")]:
            self.health.set_condition(key, None)  # nothing is subscribed to watch
        if self.camera is not None:
            self.camera.destroy()
            self.camera = None
        for part in ("servers", "semantic"):
            if getattr(self, part) is not None:
                getattr(self, part).destroy()
                setattr(self, part, None)
        with self._io_lock:
            if self.outputs is not None:
                self.outputs.destroy()
                self.outputs = None
        self.get_logger().info("inactive: inputs, outputs, services and action removed")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.worker is not None:
            self.worker.stop()
        self.worker = self.segmenter = None
        self.health.model_ok, self.health.model_error = False, NOT_CONFIGURED
        self.state = "unconfigured"
        self.get_logger().info("cleaned up: model freed")
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.state == "active":
            self.on_deactivate(state)
        self.on_cleanup(state)
        self.state = "finalized"
        return SUCCESS

    # -- inputs -----------------------------------------------------------------------
    def _reject(self, what: str, problem: str) -> None:
        self.health.rejected_inputs += 1
        self.health.error(f"{what}: {problem}")
        self.get_logger().warning(f"ignored {what}: {problem}")

    def cloud_frame(self, msg: PointCloud2) -> Frame:
        """A cloud message as the worker's ``Frame``: range-filtered and placed in the
        network's frame (``frames``); ``ValueError`` says why it is not usable. Topic
        clouds and Segment-call clouds both come through here."""
        cloud = cloud_to_numpy(msg)
        finite = int(finite_mask(cloud.points).sum())
        if not finite:
            raise ValueError(f"no finite points among {len(cloud.points)} (empty or all-NaN "
                             "cloud)")
        placement, dropped = self.frames.prepare(msg.header, cloud.points, self.range_limits)
        self.health.facts.update(cloud_frame=msg.header.frame_id, frame_transform=placement.how,
                                 network_frame=placement.frame_id, filtered_points=str(dropped))
        self.health.set_condition("frame", placement.problem)
        if placement.problem:
            self.get_logger().warning(placement.problem, throttle_duration_sec=10.0)
        if not finite_mask(placement.points).any():
            raise ValueError(f"all {finite} finite points are outside the range filter "
                             f"({self.range_limits})")
        return Frame(header=Header(stamp=msg.header.stamp, frame_id=placement.frame_id),
                     points=placement.points, colors=cloud.colors,
                     organized_shape=cloud.organized_shape, source_frame=msg.header.frame_id,
                     placement=placement)

    def _on_cloud(self, msg: PointCloud2) -> None:
        self.health.clouds.tick()
        try:
            frame = self.cloud_frame(msg)
        except ValueError as exc:
            self._reject("point cloud", f"{exc}; keeping the previous frame")
            return
        self.worker.submit_frame(frame)
        if self.semantic is not None:
            self.semantic.submit_frame(frame)

    def submit(self, raw: str, source: str, frame: Frame | None = None,
               timeout: float | None = None, on_done=None) -> Request:
        """Check and queue one command; raises ``CommandRefused`` with the reason."""
        text, warning = check_command(raw)
        if warning:
            self.get_logger().warning(warning)
        worker = self.worker
        if worker is None or self.state != "active":
            raise CommandRefused(f"the node is {self.state}, not active")
        wait = timeout if timeout is not None and timeout > 0 else self.p("request_timeout")
        request = Request(self.request_ids.new(), text, source, frame=frame, on_done=on_done,
                          deadline=None if source == "topic" else time.monotonic() + wait)
        if not worker.submit(request):
            raise CommandRefused(f"{worker.queued} commands are already waiting "
                                 f"(command_queue_size={worker.queue_size}); {text[:80]!r} "
                                 f"(request {request.id}) is not run")
        self.get_logger().info(f"command {request.id} from {source}: {text[:200]!r}" + (
            "" if worker.has_frame or frame is not None
            else " (waiting for the first point cloud)"))
        if source == "topic":
            self.outputs.active_command(text)
        return request

    def _on_command(self, data: bytes, info: dict) -> None:
        """Taken raw (serialized) so an embedded NUL is seen, not cut (``string_from_cdr``)."""
        self.health.commands.tick()
        try:
            text = string_from_cdr(data)
            replayed = self.replay.problem(info)
            if replayed:
                self.get_logger().warning(f"ignored command {text[:80]!r}: {replayed}")
                return
            self.submit(text, "topic")
        except CommandRefused as exc:
            self._reject("command", str(exc))

    # -- inference (worker thread) ----------------------------------------------------
    def _run(self, frame: Frame, request: Request):
        segmenter = self.segmenter
        if segmenter is None:
            raise RuntimeError(f"model not loaded: {self.health.model_error}")
        cameras = cameras_for(self, frame, request)
        request.state = RUNNING
        # the Segmenter owns the point policy: finite filter, density, a label per point
        result = segmenter.segment(
            frame.points, frame.colors, cameras=cameras, text=request.text,
            min_target_points=self.p("min_target_points"),
            limit_by_grammar=self.p("limit_by_grammar"),
            **checkpoint_defaulted(self.p))
        return result, cameras

    def _answer_failed(self, frame: Frame | None, request: Request, error: str,
                       inference_s: float = 0.0) -> None:
        header = frame.header if frame is not None else self.cloud_header_now()
        msg = result_message(frame, request, None, 0, timings(header, request, inference_s),
                             error=error)
        self._deliver(request, msg)

    def cloud_header_now(self) -> Header:
        """The header of an answer that never had a cloud: now, no frame."""
        return Header(stamp=self.get_clock().now().to_msg())

    def _deliver(self, request: Request, msg: Any) -> None:
        if request.cancelled:
            return
        with self._io_lock:
            if self.outputs is not None:
                self.outputs.answer(msg)
        if request.on_done is not None:
            request.on_done(msg)

    def _done(self, frame: Frame | None, request: Request, output, error,
              latency_s: float) -> None:
        latency_ms = latency_s * 1000.0
        if error is not None:
            self.health.error(f"inference failed: {error}")
            self.get_logger().error(f"request {request.id} {request.text!r} failed: {error}")
            self._answer_failed(frame, request, str(error), latency_s)
            return
        self.health.last_latency_ms = latency_ms
        result, cameras = output
        msg = result_message(frame, request, result, len(cameras),
                             timings(frame.header, request, latency_s))
        if not request.cancelled:
            with self._io_lock:
                if self.outputs is not None:
                    self.outputs.publish(frame, result, cameras)
        names = ", ".join(f"{t.label}({t.score:.2f})" for t in result.targets) or "no target"
        self.get_logger().info(f"{request.text!r}: {names} in {latency_ms:.0f} ms "
                               f"({len(cameras)} camera image(s); request {request.id} "
                               f"from {request.source})")
        self._deliver(request, msg)

    def _expect_clouds(self) -> bool:
        """Clouds are due: a request waits for its first cloud, or a command streams
        (continuous). On demand (mode once, nothing waiting) a quiet sensor is idle."""
        worker = self.worker
        if worker is None or self.state != "active":
            return False
        if worker.queued and not worker.has_frame:
            return True
        return self.p("mode") == "continuous" and worker.command is not None

    def _publish_diagnostics(self) -> None:
        # before configure: ERROR "not configured"; configured and idle: OK "idle: ..."
        if (watch := self.input_watch) is not None:  # one read: deactivation may drop it
            watch.forget_answered()
        status = self.health.status(f"{self.get_fully_qualified_name()}: segmentation",
                                    "query3d", self.p("input_timeout"),
                                    expect_clouds=self._expect_clouds())
        if self.state == "inactive" and status.level == DiagnosticStatus.OK:
            status.message = "inactive: configured, not subscribed (activate to serve)"
        status.values.append(KeyValue(key="lifecycle_state", value=self.state))
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), status))

    def destroy_node(self) -> None:
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    node = Query3DNode()
    # blocking Segment calls / FindObject goals each hold a thread while they wait; the
    # queue bounds how many, and four more serve clouds, camera, timers and lifecycle
    executor = MultiThreadedExecutor(num_threads=node.p("command_queue_size") + 6)
    if node.parameter_problems:  # nothing can fix read-only values: say why and exit
        for line in node.parameter_problems:
            print(f"query3d_node: {line}", file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
        return 2
    # a model that fails to load leaves the node unconfigured, saying why on /diagnostics
    if node.p("autostart") and node.trigger_configure() == SUCCESS:
        node.trigger_activate()
    return spin_until_shutdown(node, executor)


if __name__ == "__main__":
    raise SystemExit(main())
