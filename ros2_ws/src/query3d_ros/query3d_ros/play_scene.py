"""``query3d_play_scene``: publish a scene as a sensor would, looping at a rate.

Sources: a synthetic dataset split (``query3d data generate``), the bundled demo scene,
or a ``.pcd`` / ``.ply`` / ``.npz`` file. Publishes the cloud and, when the scene has a
camera, its image and camera_info with the same stamp. Prints the ``camera_to_cloud``
pose the node needs when there is no tf2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from query3d.bundled import DEMO_SCENE_DIR
from query3d.data.readers import read_cloud
from query3d.data.readers.scene_folder import SceneSplit
from query3d.data.sample import Scene
from query3d_ros.conversions import numpy_to_cloud, numpy_to_image
from query3d_ros.extrinsics import matrix_to_pose
from query3d_ros.qos import RELIABLE, SENSOR_DATA
from query3d_ros.spin import spin_until_shutdown


def load_scene(source: str, split: str | None, scene: str | None) -> Scene:
    """A cloud file (.pcd/.ply/.npz) or one scene of a scene-folder dataset."""
    path = Path(source).expanduser()
    if path.is_file():
        return read_cloud(path).scene
    data = SceneSplit(path, split)
    scene_id = scene if scene in data.scene_ids else data.scene_ids[int(scene or 0)]
    return data.read_scene(scene_id)


def camera_info(header: Header, K: np.ndarray, width: int, height: int) -> CameraInfo:
    info = CameraInfo(header=header, width=width, height=height, distortion_model="plumb_bob")
    info.k = [float(v) for v in np.asarray(K).reshape(-1)]
    info.d = [0.0] * 5
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    P = np.zeros((3, 4))
    P[:3, :3] = K
    info.p = [float(v) for v in P.reshape(-1)]
    return info


class ScenePlayer(Node):
    def __init__(self, scene: Scene, args: argparse.Namespace) -> None:
        super().__init__("query3d_play_scene")
        self.scene, self.args, self.sent = scene, args, 0
        qos = RELIABLE if args.reliable else SENSOR_DATA
        self.cloud_pub = self.create_publisher(PointCloud2, args.points_topic, qos)
        self.image_pub = self.create_publisher(Image, args.image_topic, qos)
        self.info_pub = self.create_publisher(CameraInfo, args.camera_info_topic, qos)
        self.create_timer(1.0 / args.rate, self.tick)

    def tick(self) -> None:
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.args.frame_id)
        cameras = self.scene.cameras if not self.args.no_images else []
        if cameras:
            cam = cameras[0]
            cam_header = Header(stamp=header.stamp, frame_id=cam.name)
            h, w = cam.image.shape[:2]
            # image, then camera_info, as image_transport's CameraPublisher does. (A
            # camera_info sent just before a 1 MB burst is often delayed by a full second
            # on Fast DDS, which holds up the image-info pairing.)
            self.image_pub.publish(numpy_to_image(cam_header, cam.image, "rgb8"))
            self.info_pub.publish(camera_info(cam_header, cam.K, w, h))
        self.cloud_pub.publish(numpy_to_cloud(header, self.scene.points, self.scene.colors))
        if self.args.log_stamps:  # lets a test check outputs carry a published cloud's stamp
            print(f"published stamp {header.stamp.sec}.{header.stamp.nanosec:09d}", flush=True)
        self.sent += 1
        if self.args.count and self.sent >= self.args.count:
            raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="query3d_play_scene", description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", default=str(DEMO_SCENE_DIR),
                        help="dataset folder or cloud file (default: the bundled demo scene)")
    parser.add_argument("--split", default=None, help="dataset split (default: the first)")
    parser.add_argument("--scene", default=None, help="scene id or index in the split")
    parser.add_argument("--rate", type=float, default=2.0, help="Hz")
    parser.add_argument("--count", type=int, default=0, help="stop after N frames; 0 = loop")
    parser.add_argument("--frame-id", default="base_link")
    parser.add_argument("--points-topic", default="/camera/depth/color/points")
    parser.add_argument("--image-topic", default="/camera/color/image_raw")
    parser.add_argument("--camera-info-topic", default="/camera/color/camera_info")
    parser.add_argument("--reliable", action="store_true", help="reliable instead of sensor QoS")
    parser.add_argument("--no-images", action="store_true", help="publish the cloud only")
    parser.add_argument("--log-stamps", action="store_true", help="print each cloud's stamp")
    args, ros_args = parser.parse_known_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be > 0")
    try:
        scene = load_scene(args.source, args.split, args.scene)
    except (OSError, ValueError, IndexError) as exc:
        print(f"query3d_play_scene: {exc}", file=sys.stderr)
        return 2
    print(f"playing {scene.scene_id}: {len(scene.points)} points, {len(scene.cameras)} "
          f"camera(s) at {args.rate} Hz in frame {args.frame_id}", flush=True)
    if scene.cameras:
        print(f"camera_to_cloud: {matrix_to_pose(scene.cameras[0].T_world_cam)}", flush=True)
    rclpy.init(args=ros_args or None)
    return spin_until_shutdown(ScenePlayer(scene, args))


if __name__ == "__main__":
    raise SystemExit(main())
