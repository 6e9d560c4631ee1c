"""Hypothesis strategies for malformed (and merely odd) input messages of every kind the
node reads: what a broken driver, a wrong cast or a corrupted packet produce.

Clouds are either a random layout (every header number drawn from the values that break
naive readers: 0, 1, 2**31, 2**32-1) or a valid xyz cloud with one thing wrong (truncated
data, wrong point_step or row_step, a huge count, a duplicated or missing field, an
unknown datatype, big-endian bytes, Inf / NaN / 3e38 coordinates). Camera inputs come as
(image, camera_info) pairs with one stamp, so they reach the node's paired callback.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header, String

U32_EDGES = [0, 1, 2, 3, 12, 16, 2**16, 2**31 - 1, 2**31, 2**32 - 1]
DATATYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 42, 255]
FIELD_NAMES = ["x", "y", "z", "rgb", "rgba", "intensity", "", "r", "g", "b", "x"]
ENCODINGS = ["rgb8", "bgr8", "rgba8", "mono8", "16UC1", "32FC1", "32SC1", "yuv422", "",
             "RGB8", "8UC3", "bayer_rggb8", "rgb8 ", "jpeg"]
ODD_FLOATS = [0.0, -0.0, 1.0, -1.0, 1e-30, 3e38, -3e38, float("inf"), float("-inf"),
              float("nan"), 500.0, 2.0**31]

u32 = st.one_of(st.sampled_from(U32_EDGES), st.integers(0, 2**32 - 1))
small_bytes = st.binary(min_size=0, max_size=2048)


def _header(draw) -> Header:
    header = Header(frame_id=draw(st.sampled_from(
        ["base_link", "", "camera_depth_optical_frame", "map", "a" * 300, "lidar"])))
    header.stamp.sec = draw(st.integers(0, 2**31 - 1))
    header.stamp.nanosec = draw(st.integers(0, 999_999_999))
    return header


@st.composite
def random_layout_clouds(draw) -> PointCloud2:
    fields = [PointField(name=draw(st.sampled_from(FIELD_NAMES)), offset=draw(u32),
                         datatype=draw(st.sampled_from(DATATYPES)), count=draw(u32))
              for _ in range(draw(st.integers(0, 6)))]
    return PointCloud2(header=_header(draw), height=draw(u32), width=draw(u32), fields=fields,
                       is_bigendian=draw(st.booleans()), point_step=draw(u32),
                       row_step=draw(u32), data=draw(small_bytes),
                       is_dense=draw(st.booleans()))


def _xyz_fields() -> list[PointField]:
    return [PointField(name=c, offset=4 * i, datatype=PointField.FLOAT32, count=1)
            for i, c in enumerate("xyz")]


@st.composite
def one_thing_wrong_clouds(draw) -> PointCloud2:
    """A valid 16-byte-per-point xyz cloud, then one corruption."""
    n = draw(st.integers(1, 300))
    values = draw(st.lists(st.sampled_from(ODD_FLOATS) | st.floats(-5, 5, width=32),
                           min_size=3, max_size=3))
    xyz = np.random.default_rng(draw(st.integers(0, 2**16))).uniform(-2, 2, (n, 4))
    xyz = xyz.astype(np.float32)
    xyz[draw(st.integers(0, n - 1)), :3] = values  # Inf / NaN / 3e38 somewhere
    msg = PointCloud2(header=_header(draw), height=1, width=n, fields=_xyz_fields(),
                      is_bigendian=False, point_step=16, row_step=16 * n, data=xyz.tobytes(),
                      is_dense=False)
    fault = draw(st.sampled_from([
        "truncate", "point_step", "row_step", "huge_count", "duplicate", "missing_z",
        "datatype", "big_endian", "huge_width", "organized_lie", "offset", "none"]))
    if fault == "truncate":
        msg.data = bytes(msg.data)[: draw(st.integers(0, max(16 * n - 1, 0)))]
    elif fault == "point_step":
        msg.point_step = draw(st.sampled_from([0, 1, 11, 17, 2**32 - 1]))
    elif fault == "row_step":
        msg.row_step = draw(st.sampled_from([0, 16 * n - 1, 2**32 - 1]))
    elif fault == "huge_count":
        msg.fields[2].count = draw(st.sampled_from([2**32 - 1, 2**31, 2**20, 5]))
    elif fault == "duplicate":
        msg.fields = [*msg.fields, PointField(name="x", offset=12, datatype=7, count=1)]
    elif fault == "missing_z":
        msg.fields = msg.fields[:2]
    elif fault == "datatype":
        msg.fields[draw(st.integers(0, 2))].datatype = draw(st.sampled_from([0, 9, 42, 255, 1]))
    elif fault == "big_endian":
        msg.is_bigendian = True  # the bytes are little-endian: read as big, values are odd
    elif fault == "huge_width":
        msg.width = draw(st.sampled_from([2**31, 2**32 - 1]))
    elif fault == "organized_lie":
        msg.height = draw(st.sampled_from([2, 480, 2**32 - 1]))
    elif fault == "offset":
        msg.fields[0].offset = draw(st.sampled_from([13, 2**32 - 1]))
    return msg


clouds = st.one_of(random_layout_clouds(), one_thing_wrong_clouds())


@st.composite
def camera_pairs(draw) -> tuple[Image, CameraInfo]:
    header = _header(draw)
    width = draw(st.sampled_from([0, 1, 8, 16, 2**31, 2**32 - 1]))
    height = draw(st.sampled_from([0, 1, 6, 12, 2**32 - 1]))
    encoding = draw(st.sampled_from(ENCODINGS))
    natural = (width * height * 3) if width * height <= 4096 else 100
    data = draw(st.one_of(st.just(bytes(natural)), small_bytes))
    step = draw(st.one_of(st.sampled_from([0, 1, width * 3, 2**32 - 1]), u32))
    image = Image(header=header, height=height, width=width, encoding=encoding,
                  is_bigendian=draw(st.booleans()), step=step % 2**32, data=data)
    k = draw(st.lists(st.sampled_from(ODD_FLOATS + [100.0, 8.0, 6.0]), min_size=9,
                      max_size=9))
    info = CameraInfo(header=header, width=draw(st.sampled_from([width, 0, 16])),
                      height=draw(st.sampled_from([height, 0, 12])),
                      distortion_model=draw(st.sampled_from(["plumb_bob", "", "x" * 100])),
                      d=draw(st.lists(st.sampled_from(ODD_FLOATS), max_size=8)), k=k)
    return image, info


CONTROL = "".join(chr(c) for c in range(1, 32)) + "\x7f"
commands = st.one_of(
    st.sampled_from(["", " ", "\t\n  \r", "\x00", "\x00\x00\x00"]),
    st.text(alphabet=CONTROL + " ", max_size=200),
    st.text(max_size=50).map(lambda t: "\x00" + t),
)


def command_message(text: str) -> String:
    return String(data=text)
