"""Every parameter of query3d_node, declared from one table.

The table is the single source of names, defaults, descriptions and whether a value may
change at run time; ``config/query3d.yaml`` repeats the defaults for users and a test
keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    dynamic: bool = False  # may be changed at run time with `ros2 param set`


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("checkpoint", "", "checkpoint (.pt) or export folder; empty = bundled demo"),
    ParamSpec("backend", "auto", "auto | torch | onnxruntime | tensorrt"),
    ParamSpec("engine_cache_dir", "~/.cache/query3d/engines", "TensorRT engine cache folder"),
    ParamSpec("trt_precision", "fp16", "fp16 | fp32 (TensorRT only)"),
    ParamSpec("text_cache_size", 128, "number of cached command embeddings"),
    ParamSpec("warm_up", True, "prepare the graph (ONNX export, engine build) at start-up, "
              "so the first command is not slow"),
    ParamSpec("num_threads", 0, "CPU threads for inference; 0 = library default"),
    ParamSpec("score_threshold", -1.0, "a detection slot fires above this; < 0 = the "
              "checkpoint's calibrated value", dynamic=True),
    ParamSpec("mask_threshold", -1.0, "a point belongs to a target above this; < 0 = the "
              "checkpoint's value", dynamic=True),
    ParamSpec("min_target_points", 10, "targets with fewer points are dropped", dynamic=True),
    ParamSpec("network_points", -1, "the network sees at most this many points, every point "
              "is labelled; -1 = the checkpoint's training density, 0 = all"),
    ParamSpec("max_points", 200000, "larger clouds are randomly subsampled", dynamic=True),
    ParamSpec("mode", "once", "once: run per command; continuous: re-run on new frames",
              dynamic=True),
    ParamSpec("max_rate", 2.0, "Hz, upper bound of runs in continuous mode", dynamic=True),
    ParamSpec("points_topic", "~/points", "input sensor_msgs/PointCloud2"),
    ParamSpec("image_topic", "~/image", "input sensor_msgs/Image"),
    ParamSpec("camera_info_topic", "~/camera_info", "input sensor_msgs/CameraInfo"),
    ParamSpec("command_topic", "~/command", "input std_msgs/String command"),
    ParamSpec("points_qos", "sensor_data", "sensor_data (best effort) | reliable"),
    ParamSpec("image_qos", "sensor_data", "sensor_data (best effort) | reliable"),
    ParamSpec("use_images", True, "pair clouds with images + camera_info when they arrive"),
    ParamSpec("sync_slop", 0.05, "s, approximate-time pairing window", dynamic=True),
    ParamSpec("image_wait", 0.5, "s a run waits for its cloud's camera image while a camera "
              "publishes (images are larger and often arrive after their cloud); 0 = never",
              dynamic=True),
    ParamSpec("sync_queue_size", 10, "messages kept per input while pairing"),
    ParamSpec("use_tf", True, "camera extrinsics from tf2 where installed"),
    ParamSpec("camera_to_cloud", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
              "x y z qx qy qz qw of the camera optical frame in the cloud frame (no tf2)"),
    ParamSpec("input_timeout", 2.0, "s without a cloud before diagnostics WARN", dynamic=True),
    ParamSpec("objects_topic", "~/objects", "output PointCloud2 of target points"),
    ParamSpec("mask_topic", "~/mask", "output PointCloud2 of the input with an instance field"),
    ParamSpec("markers_topic", "~/markers", "output MarkerArray of boxes and labels"),
    ParamSpec("mask_image_topic", "~/mask_image", "output instance-id image (camera view)"),
    ParamSpec("debug_image_topic", "~/debug_image", "output camera image with masks drawn"),
    ParamSpec("active_command_topic", "~/active_command", "output the command being served"),
    ParamSpec("detections_topic", "~/detections", "output vision_msgs/Detection3DArray"),
    ParamSpec("latency_topic", "~/latency", "output per-run latency in ms"),
    ParamSpec("result_topic", "~/result", "output JSON summary per run (std_msgs/String)"),
    ParamSpec("publish_debug_image", True, "draw and publish the debug image", dynamic=True),
    ParamSpec("marker_lifetime", 0.0, "s, 0 = markers stay until replaced", dynamic=True),
    ParamSpec("diagnostics_period", 1.0, "s between diagnostics messages"),
)

BY_NAME = {p.name: p for p in PARAMS}
