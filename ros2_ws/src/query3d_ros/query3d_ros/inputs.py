"""The optional camera input: image + camera_info paired by stamp, checked, and handed to
the cloud/camera synchroniser. Made on activate, destroyed on deactivate."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sensor_msgs.msg import CameraInfo, Image

from query3d.data.sample import CameraView
from query3d_ros import topics
from query3d_ros.conversions import camera_info_to_model, image_to_rgb, validate_transform
from query3d_ros.extrinsics import pose_to_matrix
from query3d_ros.qos import qos_by_name
from query3d_ros.sync import CloudCameraSync, make_synchronizer


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
