"""PCD reading: fixtures are written byte by byte to the PCL format spec (not by the
library under test), then read through ``read_cloud``; pypcd4's own writer is a second
cross-check."""

from __future__ import annotations

import struct
from pathlib import Path

import lzf
import numpy as np
import pytest
from pypcd4 import Encoding, PointCloud

from query3d.data.readers import read_cloud, read_pcd_fields
from query3d.data.readers.common import pack_rgb

TYPES = {np.dtype("f4"): ("F", 4), np.dtype("u4"): ("U", 4), np.dtype("i4"): ("I", 4),
         np.dtype("u1"): ("U", 1), np.dtype("f8"): ("F", 8)}


def ascii_value(name: str, kind: str, value: np.generic) -> str:
    """As PCL's writer prints it: a float ``rgb`` as its uint32 bit pattern in decimal."""
    if kind == "F" and name == "rgb":
        return str(int(np.float32(value).view(np.uint32)))
    return repr(float(value)) if kind == "F" else str(int(value))


def write_pcd(path: Path, columns: dict[str, np.ndarray], encoding: str, width: int,
              height: int = 1) -> Path:
    names = list(columns)
    specs = [TYPES[columns[n].dtype] for n in names]
    header = "\n".join([
        "# .PCD v0.7 - Point Cloud Data file format", "VERSION 0.7",
        f"FIELDS {' '.join(names)}", f"SIZE {' '.join(str(s) for _, s in specs)}",
        f"TYPE {' '.join(t for t, _ in specs)}", f"COUNT {' '.join('1' for _ in names)}",
        f"WIDTH {width}", f"HEIGHT {height}", "VIEWPOINT 0 0 0 1 0 0 0",
        f"POINTS {width * height}", f"DATA {encoding}", ""]).encode()
    n = width * height
    if encoding == "ascii":
        rows = []
        for i in range(n):
            rows.append(" ".join(ascii_value(c, t, columns[c][i])
                                 for c, (t, _) in zip(names, specs)))
        body = ("\n".join(rows) + "\n").encode()
    elif encoding == "binary":
        record = np.empty(n, dtype=[(c, columns[c].dtype.newbyteorder("<")) for c in names])
        for c in names:
            record[c] = columns[c]
        body = record.tobytes()
    else:  # binary_compressed: each field's column stored contiguously, then LZF
        plain = b"".join(columns[c].astype(columns[c].dtype.newbyteorder("<")).tobytes()
                         for c in names)
        packed = lzf.compress(plain, 2 * len(plain) + 64)  # room for random data
        body = struct.pack("<II", len(packed), len(plain)) + packed
    path.write_bytes(header + body)
    return path


def scene_columns(n: int, rng: np.random.Generator, colour_field: str = "rgb"):
    xyz = rng.uniform(-2, 2, size=(n, 3)).astype(np.float32)
    rgb8 = rng.integers(0, 256, size=(n, 3))
    packed = pack_rgb(rgb8 / 255.0)
    colour = packed.view(np.float32) if colour_field == "rgb" else packed.astype(np.uint32)
    label = rng.integers(0, 7, size=n).astype(np.uint32)
    columns = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], colour_field: colour,
               "label": label}
    return columns, xyz, rgb8, label


@pytest.mark.parametrize("encoding", ["ascii", "binary", "binary_compressed"])
@pytest.mark.parametrize("colour_field", ["rgb", "rgba"])
def test_every_encoding_gives_exact_points_colours_labels(tmp_path, encoding, colour_field):
    rng = np.random.default_rng(1)
    columns, xyz, rgb8, label = scene_columns(50, rng, colour_field)
    path = write_pcd(tmp_path / "c.pcd", columns, encoding, width=50)
    cloud = read_cloud(path)
    np.testing.assert_array_equal(cloud.scene.points, xyz)
    np.testing.assert_allclose(cloud.scene.colors * 255, rgb8, atol=1e-3)
    np.testing.assert_array_equal(cloud.scene.instance, label.astype(np.int64))
    assert not cloud.organized and cloud.width == 50
    np.testing.assert_array_equal(cloud.index, np.arange(50))


def organized_pinhole(width: int, height: int, K: np.ndarray, rng: np.random.Generator):
    """An organized cloud exactly as a depth camera makes it, a hole of NaNs included."""
    v, u = np.mgrid[0:height, 0:width]
    z = rng.uniform(0.6, 1.5, size=(height, width))
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v - K[1, 2]) * z / K[1, 1]
    xyz = np.stack([x, y, z], -1).astype(np.float32)
    xyz[1, 2:5] = np.nan
    return xyz


@pytest.mark.parametrize("encoding", ["binary", "binary_compressed"])
def test_organized_cloud_keeps_grid_and_recovers_camera(tmp_path, encoding):
    rng = np.random.default_rng(2)
    K = np.array([[50.0, 0, 7.5], [0, 52.0, 5.5], [0, 0, 1]])
    xyz = organized_pinhole(16, 12, K, rng)
    rgb = rng.integers(0, 256, size=(12, 16, 3))
    flat = xyz.reshape(-1, 3)
    columns = {"x": flat[:, 0], "y": flat[:, 1], "z": flat[:, 2],
               "rgb": pack_rgb(rgb.reshape(-1, 3) / 255.0).view(np.float32)}
    path = write_pcd(tmp_path / "o.pcd", columns, encoding, width=16, height=12)

    dropped = read_cloud(path)
    assert dropped.organized and (dropped.width, dropped.height) == (16, 12)
    assert len(dropped.scene.points) == 16 * 12 - 3
    valid = np.isfinite(flat).all(axis=1)
    np.testing.assert_array_equal(dropped.index, np.flatnonzero(valid))
    np.testing.assert_array_equal(dropped.scene.points, flat[valid])
    grid = dropped.to_grid(np.ones(len(dropped.index), np.uint8))
    assert grid.shape == (12, 16) and grid[1, 2:5].sum() == 0 and grid.sum() == 16 * 12 - 3

    kept = read_cloud(path, keep_nan=True)
    assert len(kept.scene.points) == 16 * 12
    assert np.isnan(kept.scene.points[1 * 16 + 3, 2])

    (camera,) = dropped.scene.cameras
    np.testing.assert_allclose(camera.K, K, atol=1e-3)
    np.testing.assert_array_equal(camera.image, rgb.astype(np.uint8))
    np.testing.assert_allclose(camera.depth[0], xyz[0, :, 2], rtol=1e-6)
    assert np.isnan(camera.depth[1, 3])


def test_float_rgb_printed_as_float_also_reads(tmp_path):
    """Writers other than PCL print the packed float itself (a tiny denormal)."""
    rgb8 = np.array([[10, 200, 30], [255, 0, 128]])
    packed = pack_rgb(rgb8 / 255.0).view(np.float32)
    rows = [f"0 0 {i} {float(p)!r}" for i, p in enumerate(packed)]
    path = tmp_path / "f.pcd"
    path.write_text("FIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\nWIDTH 2\n"
                    "HEIGHT 1\nPOINTS 2\nDATA ascii\n" + "\n".join(rows) + "\n")
    np.testing.assert_allclose(read_cloud(path).scene.colors * 255, rgb8, atol=1e-3)


def test_agrees_with_pypcd4(tmp_path):
    """pypcd4 writes, we read (its ascii writer prints packed rgb as %.10f, i.e. 0, so
    colour is compared on the binary encodings only); and for our ascii fixture, pypcd4's
    own ascii parser reads the same xyz and labels as ours."""
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(40, 3)).astype(np.float32)
    rgb8 = rng.integers(0, 256, size=(40, 3))
    cloud = PointCloud.from_xyzrgb_points(
        np.concatenate([xyz, PointCloud.encode_rgb(rgb8)[:, None]], axis=1))
    for encoding in (Encoding.ASCII, Encoding.BINARY, Encoding.BINARY_COMPRESSED):
        path = tmp_path / f"{encoding.value}.pcd"
        cloud.save(path, encoding=encoding)
        read = read_cloud(path)
        np.testing.assert_allclose(read.scene.points, xyz, atol=1e-6)
        if encoding != Encoding.ASCII:
            np.testing.assert_allclose(read.scene.colors * 255, rgb8, atol=1e-3)
    columns, *_ = scene_columns(20, rng, "rgba")
    path = write_pcd(tmp_path / "ours.pcd", columns, "ascii", width=20)
    theirs = PointCloud.from_path(path).pc_data
    ours = read_pcd_fields(path)[0]
    for name in ("x", "y", "z", "label", "rgba"):
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_non_pcd_field_counts_come_back_as_columns(tmp_path):
    body = b"1 2 3 0.5 0.25\n4 5 6 0.75 1.0\n"
    path = tmp_path / "n.pcd"
    path.write_bytes(b"VERSION 0.7\nFIELDS x y z normal\nSIZE 4 4 4 4\nTYPE F F F F\n"
                     b"COUNT 1 1 1 2\nWIDTH 2\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\n"
                     b"DATA ascii\n" + body)
    fields, width, height = read_pcd_fields(path)
    np.testing.assert_allclose(fields["normal"], [[0.5, 0.25], [0.75, 1.0]])
    assert (width, height) == (2, 1)


def _valid_binary(tmp_path: Path, encoding: str) -> Path:
    columns, *_ = scene_columns(30, np.random.default_rng(4))
    return write_pcd(tmp_path / f"v_{encoding}.pcd", columns, encoding, width=30)


@pytest.mark.parametrize("encoding", ["binary", "binary_compressed"])
def test_truncated_file_names_file_and_problem(tmp_path, encoding):
    path = _valid_binary(tmp_path, encoding)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match=rf"{path.name}: truncated"):
        read_cloud(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h.replace(b"DATA binary\n", b""), "no DATA line"),
        (lambda h: h.replace(b"TYPE F F F", b"TYPE F F X"), "TYPE must be F, U or I"),
        (lambda h: h.replace(b"POINTS 30", b"POINTS 31"), "WIDTH 30 x HEIGHT 1 but POINTS 31"),
        (lambda h: h.replace(b"FIELDS x y z", b"FIELDS x y w"), "no 'z' field"),
        (lambda h: h.replace(b"DATA binary", b"DATA zipped"), "unknown PCD DATA encoding"),
        (lambda h: h.replace(b"SIZE 4 4 4 4 4", b"SIZE 4 4 4 4"), "5 FIELDS but 4 SIZE"),
        (lambda h: h.replace(b"WIDTH 30\n", b""), "lacks WIDTH"),
    ],
)
def test_bad_header_is_reported(tmp_path, edit, message):
    path = _valid_binary(tmp_path, "binary")
    raw = path.read_bytes()
    cut = raw.index(b"DATA binary\n") + len(b"DATA binary\n")
    path.write_bytes(edit(raw[:cut]) + raw[cut:])
    with pytest.raises(ValueError, match=message):
        read_cloud(path)


def test_ascii_row_with_missing_value_is_reported(tmp_path):
    columns, *_ = scene_columns(5, np.random.default_rng(5))
    path = write_pcd(tmp_path / "a.pcd", columns, "ascii", width=5)
    lines = path.read_bytes().split(b"\n")
    lines[-3] = b" ".join(lines[-3].split()[:-1])
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match=r"a\.pcd: bad PCD ascii row"):
        read_cloud(path)


def test_garbage_and_wrong_suffix(tmp_path):
    junk = tmp_path / "junk.pcd"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="junk.pcd"):
        read_cloud(junk)
    with pytest.raises(ValueError, match="unsupported point cloud type '.xyz'"):
        read_cloud(tmp_path / "c.xyz")
    with pytest.raises(ValueError, match="no such file"):
        read_cloud(tmp_path / "missing.pcd")


def test_ascii_with_fewer_rows_than_points_is_truncated(tmp_path):
    columns, *_ = scene_columns(5, np.random.default_rng(6))
    path = write_pcd(tmp_path / "t.pcd", columns, "ascii", width=5)
    path.write_bytes(b"\n".join(path.read_bytes().split(b"\n")[:-3]) + b"\n")
    with pytest.raises(ValueError, match=r"t\.pcd: truncated: ascii data holds 3 of 5"):
        read_cloud(path)
