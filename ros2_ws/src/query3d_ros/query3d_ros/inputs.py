"""The optional camera input: image + camera_info paired by stamp, checked, and handed to
the cloud/camera synchroniser (made on activate, destroyed on deactivate); and the views
a run uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sensor_msgs.msg import CameraInfo, Image

from query3d.data.sample import CameraView
from query3d_ros import topics
from query3d_ros.commands import WAITING_FOR_CAMERA
from query3d_ros.conversions import camera_info_to_model, image_to_rgb, validate_transform
from query3d_ros.extrinsics import pose_to_matrix
from query3d_ros.qos import qos_by_name
from query3d_ros.sync import CloudCameraSync, make_synchronizer, stamp_to_ns


class CameraInput:
    """Subscribes ``~/input/image`` + ``~/input/camera_info``; each valid pair becomes a
    ``CameraView`` in ``camera_sync``; a bad one is passed to ``reject(what, why)``."""

    def __init__(self, node: Any, camera_sync: CloudCameraSync,
                 reject: Callable[[str, str], None], callback_group: Any = None) -> None:
        self.node, self.camera_sync, self.reject = node, camera_sync, reject
        qos = qos_by_name(node.p("image_qos"))
        self.sync = make_synchronizer(
            node, [(Image, topics.INPUT_IMAGE, qos), (CameraInfo, topics.INPUT_CAMERA_INFO, qos)],
            slop=node.p("sync_slop"), queue=node.p("sync_queue_size"),
            callback_group=callback_group)
        self.sync.register_callback(self._on_camera)

    def publisher_count(self) -> int:
        """Publishers on the image topic (a camera that will send, even if none came yet)."""
        sub = self.sync.subscriptions[0]
        return getattr(sub, "sub", sub).get_publisher_count()

    def destroy(self) -> None:
        self.sync.destroy()

    def _on_camera(self, image: Image, info: CameraInfo) -> None:
        self.node.health.images.tick()
        try:
            model = camera_info_to_model(info)
            rgb = image_to_rgb(image)
            if rgb.shape[:2] != (model.height, model.width):
                raise ValueError(f"image is {rgb.shape[1]}x{rgb.shape[0]} but camera_info "
                                 f"says {model.width}x{model.height}")
            T_cloud_cam = validate_transform(pose_to_matrix(self.node.p("camera_to_cloud")))
        except ValueError as exc:
            self.reject("camera input", str(exc))
            return
        view = CameraView(image=rgb, K=model.K, T_world_cam=T_cloud_cam,
                          name=image.header.frame_id or "camera")
        self.camera_sync.add_view(image.header.stamp, view, time.monotonic())


def _camera_expected(node: Any) -> bool:
    """Images are streaming, or an image publisher exists (the first image may still be
    on its way: a 1 MB image can take longer than its cloud to arrive)."""
    last = node.camera_sync.last_view_at
    if last is not None and time.monotonic() - last < node.p("input_timeout"):
        return True
    camera = node.camera
    return camera is not None and camera.publisher_count() > 0


def cameras_for(node: Any, frame: Any, request: Any) -> list:
    """The camera views a run uses (what the outputs report the network saw); runs on
    the worker thread.

    A camera image is larger than its cloud and often arrives after it, so while a camera
    publishes, the run waits up to ``image_wait`` seconds for the image (the request's
    state says so: FindObject feedback ``waiting_for_camera``)."""
    if not node.p("use_images"):
        return []
    wait = node.p("image_wait") if _camera_expected(node) else 0.0
    if wait > 0 and request is not None:  # None: semantic labelling, no request state
        request.state = WAITING_FOR_CAMERA
    view = node.camera_sync.view_for(frame.header.stamp, node.p("sync_slop"), wait)
    if view is not None:  # its pose in the frame the network sees (``frames``)
        placed, problem = node.frames.camera(frame.source_frame, frame.placement, view,
                                             frame.header.stamp)
        node.health.set_condition("camera_frame", problem)
        if problem:
            node.get_logger().warning(problem, throttle_duration_sec=10.0)
        return [placed]
    if wait > 0:  # a camera publishes, but not this cloud's image
        problem = (f"no camera image within sync_slop={node.p('sync_slop')} s of the cloud "
                   f"stamped {stamp_to_ns(frame.header.stamp) / 1e9:.3f} arrived within "
                   f"image_wait={node.p('image_wait')} s; ran on the points only")
        node.health.sync_failed(problem)
        node.get_logger().warning(problem, throttle_duration_sec=10.0)
    return []
