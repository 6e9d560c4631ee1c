"""Every declared layout that cannot fit its data is refused with a reason, by arithmetic
on the header (never by walking a declared count), and layouts that do fit are read."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sensor_msgs")

from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField  # noqa: E402

from query3d_ros.commands import CommandRefused, check_command  # noqa: E402
from query3d_ros.conversions import (  # noqa: E402
    camera_info_to_model,
    cloud_to_numpy,
    image_to_rgb,
    read_structured_numpy,
)

F32 = PointField.FLOAT32


def xyz_cloud(n: int = 4, point_step: int = 16, big_endian: bool = False) -> PointCloud2:
    order = ">" if big_endian else "<"
    records = np.zeros(n, dtype=np.dtype({"names": list("xyz"), "formats": [order + "f4"] * 3,
                                          "offsets": [0, 4, 8], "itemsize": point_step}))
    for i, c in enumerate("xyz"):
        records[c] = np.arange(n) + 10 * i
    return PointCloud2(height=1, width=n, point_step=point_step, row_step=point_step * n,
                       is_bigendian=big_endian, data=records.tobytes(),
                       fields=[PointField(name=c, offset=4 * i, datatype=F32, count=1)
                               for i, c in enumerate("xyz")])


@pytest.mark.parametrize("count", [2**32 - 1, 2**31, 5])
def test_a_huge_field_count_is_refused_by_arithmetic(count: int) -> None:
    """The issue's 117-byte cloud (z count 2**32-1) stalled the node for minutes."""
    msg = xyz_cloud(1)
    msg.fields[2].count = count
    with pytest.raises(ValueError, match=f"'z' .*count {count} .*runs past point_step 16"):
        cloud_to_numpy(msg)


def test_an_empty_cloud_declaring_absurd_fields_is_refused() -> None:
    msg = xyz_cloud(0)
    msg.fields[2].count = 2**32 - 1
    with pytest.raises(ValueError, match="empty but its fields declare"):
        cloud_to_numpy(msg)
    assert cloud_to_numpy(xyz_cloud(0)).points.shape == (0, 3)  # a sane empty cloud reads


@pytest.mark.parametrize("change, expected", [
    (lambda m: setattr(m, "point_step", 11), "runs past point_step 11"),
    (lambda m: setattr(m, "point_step", 0), "point_step 0"),
    (lambda m: setattr(m, "row_step", 63), "row_step 63 < width\\*point_step 64"),
    (lambda m: setattr(m, "data", bytes(m.data)[:63]), "data has 63 bytes, its header needs 64"),
    (lambda m: setattr(m, "width", 2**32 - 1), "width\\*point_step 68719476720"),
    (lambda m: setattr(m, "height", 480), "needs"),
    (lambda m: m.fields.append(PointField(name="x", offset=12, datatype=F32, count=1)),
     "duplicate field name 'x'"),
    (lambda m: setattr(m.fields[1], "datatype", 42), "unknown datatype 42"),
    (lambda m: setattr(m.fields[1], "datatype", 0), "unknown datatype 0"),
    (lambda m: setattr(m.fields[0], "offset", 2**32 - 1), "'x' \\(offset 4294967295"),
    (lambda m: setattr(m.fields[2], "count", 0), "count 0"),
    (lambda m: setattr(m, "fields", m.fields[:2]), "lacks field\\(s\\) \\['z'\\]"),
])
def test_layouts_that_cannot_fit_their_data_are_refused(change, expected: str) -> None:
    msg = xyz_cloud(4)
    change(msg)
    with pytest.raises(ValueError, match=expected):
        cloud_to_numpy(msg)


def test_a_layout_expanding_to_millions_of_values_is_refused() -> None:
    msg = xyz_cloud(1, point_step=1 << 20)
    msg.data = bytes(1 << 20)
    msg.fields.append(PointField(name="blob", offset=12, datatype=PointField.UINT8,
                                 count=(1 << 20) - 12))
    with pytest.raises(ValueError, match="expand to 1048567 values per point"):
        cloud_to_numpy(msg)


def test_big_endian_clouds_are_read_not_refused() -> None:
    little = cloud_to_numpy(xyz_cloud(5)).points
    big = cloud_to_numpy(xyz_cloud(5, big_endian=True)).points
    assert np.array_equal(little, big) and big[4].tolist() == [4.0, 14.0, 24.0]


def test_a_field_with_count_2_expands_within_point_step() -> None:
    msg = xyz_cloud(3, point_step=20)
    msg.fields.append(PointField(name="normal", offset=12, datatype=F32, count=2))
    records = read_structured_numpy(msg)
    assert {"normal_0", "normal_1"} <= set(records.dtype.names)


def _image(width=4, height=3, encoding="rgb8", step=None, data=None) -> Image:
    step = width * 3 if step is None else step
    return Image(width=width, height=height, encoding=encoding, step=step,
                 data=bytes(step * height) if data is None else data)


@pytest.mark.parametrize("image, expected", [
    (_image(encoding="yuv422"), "unsupported image encoding 'yuv422'"),
    (_image(encoding="16UC1", step=8), "is depth, not colour"),
    (_image(step=11), "step 11 < width\\*channels\\*bytes 12"),
    (_image(data=bytes(35)), "data has 35 bytes"),
    (_image(width=0), "empty"),
    (_image(width=2**32 - 1, step=0), "step 0"),
])
def test_images_whose_layout_cannot_fit_are_refused(image: Image, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        image_to_rgb(image)


@pytest.mark.parametrize("k, expected", [
    ([0.0] * 9, "focal length must be > 0"),
    ([float("nan")] + [0.0] * 8, "non-finite"),
    ([100.0, 0, 8, 0, 100.0, 6, 0, 0, 0], "last row"),
])
def test_camera_info_with_zero_or_nan_intrinsics_is_refused(k, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        camera_info_to_model(CameraInfo(width=16, height=12, k=k))


@pytest.mark.parametrize("raw, text", [
    ("the red mug", "the red mug"),
    ("  the\tred\n mug\r ", "the red mug"),
    ("la tasse bleue \u00e0 gauche", "la tasse bleue \u00e0 gauche"),
])
def test_commands_keep_their_text_with_whitespace_collapsed(raw: str, text: str) -> None:
    assert check_command(raw) == (text, None)


@pytest.mark.parametrize("raw, problem", [
    ("", "empty text"),
    ("  the\tred\x1b[1m mug\x7f ", "control character '\\x1b' at position 7"),
    ("mug\x7f", "control character '\\x7f'"),
    ("\x01\x02\x03", "control character '\\x01'"),
    ("\u200b\u200d", "no printable text in 2 characters"),
    ("the red\x00 mug", "NUL character at position 7"),
])
def test_commands_with_control_or_no_printable_characters_are_refused(
        raw: str, problem: str) -> None:
    """One rule (commands.check_command): control characters are refused with their
    position, never cleaned into text the sender did not type."""
    with pytest.raises(CommandRefused) as refused:
        check_command(raw)
    assert problem in str(refused.value)
