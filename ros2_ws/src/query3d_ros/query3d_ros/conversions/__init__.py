"""ROS messages <-> numpy: the only place the node touches message bytes, so the core
(``query3d``) only ever sees plain arrays."""

from query3d_ros.conversions.camera import (
    CameraModel,
    camera_info_to_model,
    mask_image,
    project_points,
    validate_intrinsics,
    validate_transform,
)
from query3d_ros.conversions.cloud import (
    CloudArrays,
    cloud_to_numpy,
    finite_mask,
    numpy_to_cloud,
    pack_rgb,
    read_structured,
    read_structured_numpy,
    structured_dtype,
)
from query3d_ros.conversions.image import (
    COLOR_ENCODINGS,
    DEPTH_ENCODINGS,
    ENCODINGS,
    decode_image_numpy,
    depth_to_metres,
    encode_image_numpy,
    image_to_numpy,
    image_to_rgb,
    numpy_to_image,
)

__all__ = [
    "COLOR_ENCODINGS",
    "DEPTH_ENCODINGS",
    "ENCODINGS",
    "CameraModel",
    "CloudArrays",
    "camera_info_to_model",
    "cloud_to_numpy",
    "decode_image_numpy",
    "depth_to_metres",
    "encode_image_numpy",
    "finite_mask",
    "image_to_numpy",
    "image_to_rgb",
    "mask_image",
    "numpy_to_cloud",
    "numpy_to_image",
    "pack_rgb",
    "project_points",
    "read_structured",
    "read_structured_numpy",
    "structured_dtype",
    "validate_intrinsics",
    "validate_transform",
]
