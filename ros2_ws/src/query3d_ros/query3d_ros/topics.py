"""The node's fixed, private topic and service names (Autoware style): a launch file or
``-r`` remaps them, nothing renames them by parameter. Relative to the node, so
``/query3d_node/output/result`` by default and ``/<ns>/query3d_node/...`` in a namespace."""

from __future__ import annotations

INPUT_POINTS = "~/input/points"  # sensor_msgs/PointCloud2
INPUT_IMAGE = "~/input/image"  # sensor_msgs/Image (optional camera)
INPUT_CAMERA_INFO = "~/input/camera_info"  # sensor_msgs/CameraInfo
INPUT_COMMAND = "~/input/command"  # std_msgs/String
INPUT_CLASSES = "~/input/classes"  # std_msgs/String "mug, bowl, box, table" (semantic)

OUTPUT_OBJECTS = "~/output/objects"  # PointCloud2: the referred points (instance, score)
OUTPUT_MASK = "~/output/mask"  # PointCloud2: the input with an instance field
OUTPUT_MARKERS = "~/output/markers"  # visualization_msgs/MarkerArray
OUTPUT_MASK_IMAGE = "~/output/mask_image"  # Image 32SC1: instance id per camera pixel
OUTPUT_DEBUG_IMAGE = "~/output/debug_image"  # Image rgb8: the camera image with masks drawn
OUTPUT_ACTIVE_COMMAND = "~/output/active_command"  # std_msgs/String, transient local
OUTPUT_LATENCY = "~/output/latency"  # query3d_msgs/Timings, stamped like the source cloud
OUTPUT_RESULT = "~/output/result"  # query3d_msgs/QueryResult: the typed answer
OUTPUT_DETECTIONS = "~/output/detections"  # vision_msgs/Detection3DArray where installed
OUTPUT_SEMANTIC = "~/output/semantic"  # PointCloud2: the input with semantic + semantic_score
OUTPUT_SEMANTIC_LEGEND = "~/output/semantic_legend"  # String JSON, transient local

SEGMENT_SERVICE = "~/segment"  # query3d_msgs/srv/Segment
CLEAR_COMMAND_SERVICE = "~/clear_command"  # std_srvs/srv/Trigger
FIND_OBJECT_ACTION = "~/find_object"  # query3d_msgs/action/FindObject

INPUTS = (INPUT_POINTS, INPUT_IMAGE, INPUT_CAMERA_INFO, INPUT_COMMAND, INPUT_CLASSES)
OUTPUTS = (OUTPUT_OBJECTS, OUTPUT_MASK, OUTPUT_MARKERS, OUTPUT_MASK_IMAGE, OUTPUT_DEBUG_IMAGE,
           OUTPUT_ACTIVE_COMMAND, OUTPUT_LATENCY, OUTPUT_RESULT, OUTPUT_DETECTIONS,
           OUTPUT_SEMANTIC, OUTPUT_SEMANTIC_LEGEND)
