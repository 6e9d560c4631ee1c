"""sensor_msgs/Image <-> numpy for the encodings RGB-D cameras publish.

cv_bridge is used where it imports *and* survives a round-trip probe (the PyPI port is
ROS 1 code that breaks on NumPy 2); otherwise one numpy path decodes any row padding
and either byte order. Arrays come back in the message's channel order
(``image_to_numpy``); ``image_to_rgb`` and ``depth_to_metres`` give what the network
consumes.
"""

from __future__ import annotations

import sys

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

# encoding -> (element dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "16UC1": (np.dtype(np.uint16), 1),  # depth in millimetres, 0 = no return
    "32FC1": (np.dtype(np.float32), 1),  # depth in metres, NaN/0 = no return
    "32SC1": (np.dtype(np.int32), 1),  # label images (~/mask_image): instance id, -1 none
}
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "32FC1")
LABEL_ENCODINGS = ("32SC1",)
_NATIVE_BIG_ENDIAN = sys.byteorder == "big"


def _spec(encoding: str) -> tuple[np.dtype, int]:
    if encoding not in ENCODINGS:
        raise ValueError(
            f"unsupported image encoding '{encoding}'; supported: {', '.join(ENCODINGS)}"
        )
    return ENCODINGS[encoding]


def _probe_cv_bridge():
    """A CvBridge that really works with this numpy, or None."""
    try:
        from cv_bridge import CvBridge

        bridge = CvBridge()
        sample = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
        back = bridge.imgmsg_to_cv2(bridge.cv2_to_imgmsg(sample, encoding="rgb8"), "passthrough")
        depth = np.array([[1, 65535]], dtype=np.uint16)
        back_d = bridge.imgmsg_to_cv2(bridge.cv2_to_imgmsg(depth, encoding="16UC1"), "passthrough")
        if np.array_equal(back, sample) and np.array_equal(back_d, depth):
            return bridge
    except Exception:  # any failure at all means "use the numpy path"
        pass
    return None


_BRIDGE = _probe_cv_bridge()


def decode_image_numpy(msg: Image) -> np.ndarray:
    """(H,W) or (H,W,C) native-order copy of the pixels; the numpy path, any padding."""
    dtype, channels = _spec(msg.encoding)
    if msg.height == 0 or msg.width == 0:
        raise ValueError(f"image is empty ({msg.width}x{msg.height})")
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.step < row_bytes:
        raise ValueError(
            f"image step {msg.step} < width*channels*bytes {row_bytes} ({msg.encoding})"
        )
    needed = (msg.height - 1) * msg.step + row_bytes
    if len(msg.data) < needed:
        raise ValueError(
            f"image data has {len(msg.data)} bytes, a {msg.width}x{msg.height} "
            f"{msg.encoding} image with step {msg.step} needs {needed}"
        )
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    rows = np.lib.stride_tricks.as_strided(
        raw, shape=(msg.height, row_bytes), strides=(msg.step, 1)
    )
    wire = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    pixels = np.ascontiguousarray(rows).view(wire).astype(dtype)  # native order copy
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return pixels.reshape(shape)


def image_to_numpy(msg: Image) -> np.ndarray:
    """Pixels in the message's own channel order and dtype (cv_bridge 'passthrough')."""
    dtype, channels = _spec(msg.encoding)
    pixel_bytes = channels * dtype.itemsize
    bridge_can_read = (
        _BRIDGE is not None
        and bool(msg.is_bigendian) == _NATIVE_BIG_ENDIAN
        and msg.step % pixel_bytes == 0
    )
    if bridge_can_read:
        decode_image_numpy(msg)  # same validation and error messages on both paths
        return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"))
    return decode_image_numpy(msg)


def image_to_rgb(msg: Image) -> np.ndarray:
    """(H,W,3) uint8 RGB from any colour encoding: what the image encoder expects."""
    if msg.encoding in DEPTH_ENCODINGS:
        raise ValueError(
            f"image encoding '{msg.encoding}' is depth, not colour; "
            f"colour encodings: {', '.join(COLOR_ENCODINGS)}"
        )
    pixels = image_to_numpy(msg)
    if msg.encoding == "mono8":
        return np.repeat(pixels[..., None], 3, axis=2)
    if msg.encoding.startswith("bgr"):
        pixels = pixels[..., 2::-1]
    return np.ascontiguousarray(pixels[..., :3])


def depth_to_metres(msg: Image) -> np.ndarray:
    """(H,W) float32 metres with NaN where the sensor had no return (0 or non-finite)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ValueError(
            f"image encoding '{msg.encoding}' is not depth; depth encodings: "
            f"{', '.join(DEPTH_ENCODINGS)}"
        )
    pixels = image_to_numpy(msg)
    depth = pixels.astype(np.float32)
    if msg.encoding == "16UC1":
        depth *= np.float32(0.001)
    depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


def _check_array(array: np.ndarray, encoding: str) -> np.ndarray:
    dtype, channels = _spec(encoding)
    array = np.asarray(array)
    expected = 2 if channels == 1 else 3
    if array.ndim != expected or (channels > 1 and array.shape[2] != channels):
        want = "(H,W)" if channels == 1 else f"(H,W,{channels})"
        raise ValueError(f"encoding '{encoding}' needs a {want} array, got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image array is empty: {array.shape}")
    same_kind = array.dtype.newbyteorder("=") == dtype or (
        dtype.kind == "f" and array.dtype.kind == "f"
    )
    if not same_kind:
        raise ValueError(f"encoding '{encoding}' needs dtype {dtype}, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=dtype)


def encode_image_numpy(header: Header, array: np.ndarray, encoding: str) -> Image:
    """The numpy path of ``numpy_to_image``: tight rows, native byte order."""
    array = _check_array(array, encoding)
    return Image(
        header=header,
        height=array.shape[0],
        width=array.shape[1],
        encoding=encoding,
        is_bigendian=_NATIVE_BIG_ENDIAN,
        step=array.shape[1] * array.itemsize * (1 if array.ndim == 2 else array.shape[2]),
        data=array.tobytes(),
    )


def numpy_to_image(header: Header, array: np.ndarray, encoding: str) -> Image:
    """An Image message for ``array`` (channel order must already match ``encoding``)."""
    array = _check_array(array, encoding)
    if _BRIDGE is not None:
        return _BRIDGE.cv2_to_imgmsg(array, encoding=encoding, header=header)
    return encode_image_numpy(header, array, encoding)
