"""PLY reading: fixtures written byte by byte to the PLY spec, and cross-checked against
plyfile (GPL, so a test-only dependency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from query3d.data.readers import read_cloud, read_ply_vertices

plyfile = pytest.importorskip("plyfile")

VERTEX_HEADER = ("element vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
                 "property uchar red\nproperty uchar green\nproperty uchar blue\n"
                 "property int instance\n")
FACE_HEADER = "element face {f}\nproperty list uchar int vertex_indices\n"


def make_vertices(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-3, 3, size=(n, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(n, 3)).astype(np.uint8)
    instance = rng.integers(-1, 5, size=n).astype(np.int32)
    return xyz, rgb, instance


def write_ply(path: Path, xyz, rgb, instance, fmt: str, faces_first: bool = False) -> Path:
    n = len(xyz)
    faces = [(0, 1, 2), (1, 2, 3)]
    vertex_header = VERTEX_HEADER.format(n=n)
    face_header = FACE_HEADER.format(f=len(faces))
    elements = face_header + vertex_header if faces_first else vertex_header + face_header
    header = f"ply\nformat {fmt} 1.0\ncomment written by the test\n{elements}end_header\n"
    if fmt == "ascii":
        vertex_lines = [f"{x!r} {y!r} {z!r} {r} {g} {b} {i}" for (x, y, z), (r, g, b), i
                        in zip(xyz.tolist(), rgb.tolist(), instance.tolist())]
        face_lines = [f"3 {a} {b} {c}" for a, b, c in faces]
        lines = face_lines + vertex_lines if faces_first else vertex_lines + face_lines
        body = ("\n".join(lines) + "\n").encode()
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        record = np.empty(n, dtype=[("x", order + "f4"), ("y", order + "f4"),
                                    ("z", order + "f4"), ("red", "u1"), ("green", "u1"),
                                    ("blue", "u1"), ("instance", order + "i4")])
        for k, axis in enumerate("xyz"):
            record[axis] = xyz[:, k]
        for k, channel in enumerate(("red", "green", "blue")):
            record[channel] = rgb[:, k]
        record["instance"] = instance
        face_bytes = b"".join(np.array([3], "u1").tobytes() +
                              np.array(f, order + "i4").tobytes() for f in faces)
        body = face_bytes + record.tobytes() if faces_first else record.tobytes() + face_bytes
    path.write_bytes(header.encode() + body)
    return path


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_vertices_colours_and_instances_read_exactly(tmp_path, fmt):
    xyz, rgb, instance = make_vertices(60)
    path = write_ply(tmp_path / "c.ply", xyz, rgb, instance, fmt)
    cloud = read_cloud(path)
    np.testing.assert_array_equal(cloud.scene.points, xyz)
    np.testing.assert_allclose(cloud.scene.colors * 255, rgb, atol=1e-4)
    np.testing.assert_array_equal(cloud.scene.instance, instance)
    assert cloud.scene.semantic is None and cloud.fields["red"].dtype == np.uint8


def test_ascii_faces_before_vertices_are_skipped(tmp_path):
    xyz, rgb, instance = make_vertices(10, seed=1)
    path = write_ply(tmp_path / "f.ply", xyz, rgb, instance, "ascii", faces_first=True)
    np.testing.assert_array_equal(read_cloud(path).scene.points, xyz)


@pytest.mark.parametrize("text", [True, False])
def test_agrees_with_plyfile(tmp_path, text):
    """plyfile writes (including a face element and big-endian data), we read."""
    xyz, rgb, _ = make_vertices(30, seed=2)
    vertex = np.empty(30, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"),
                                 ("green", "u1"), ("blue", "u1"), ("semantic", "u2")])
    for k, axis in enumerate("xyz"):
        vertex[axis] = xyz[:, k]
    for k, channel in enumerate(("red", "green", "blue")):
        vertex[channel] = rgb[:, k]
    vertex["semantic"] = np.arange(30) % 4
    face = np.array([([0, 1, 2],), ([2, 3, 4],)], dtype=[("vertex_indices", "i4", (3,))])
    data = plyfile.PlyData([plyfile.PlyElement.describe(vertex, "vertex"),
                            plyfile.PlyElement.describe(face, "face")],
                           text=text, byte_order=">")
    path = tmp_path / "lib.ply"
    data.write(str(path))
    cloud = read_cloud(path)
    np.testing.assert_array_equal(cloud.scene.points, xyz)
    np.testing.assert_allclose(cloud.scene.colors * 255, rgb, atol=1e-4)
    np.testing.assert_array_equal(cloud.scene.semantic, np.arange(30) % 4)
    ours = read_ply_vertices(path)
    theirs = plyfile.PlyData.read(str(path))["vertex"].data
    for name in vertex.dtype.names:
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_nan_vertices_dropped_unless_kept(tmp_path):
    xyz, rgb, instance = make_vertices(8, seed=3)
    xyz[2] = np.nan
    path = write_ply(tmp_path / "n.ply", xyz, rgb, instance, "binary_little_endian")
    assert len(read_cloud(path).scene.points) == 7
    kept = read_cloud(path, keep_nan=True)
    assert len(kept.scene.points) == 8 and np.isnan(kept.scene.points[2]).all()
    np.testing.assert_array_equal(read_cloud(path).index, [0, 1, 3, 4, 5, 6, 7])


def test_truncated_binary_names_file(tmp_path):
    xyz, rgb, instance = make_vertices(20, seed=4)
    path = write_ply(tmp_path / "t.ply", xyz, rgb, instance, "binary_little_endian")
    header_end = path.read_bytes().index(b"end_header\n") + len(b"end_header\n")
    path.write_bytes(path.read_bytes()[:header_end + 19 * 19])
    with pytest.raises(ValueError, match=r"t\.ply: truncated: 20 vertices need 380 bytes"):
        read_cloud(path)


def test_truncated_ascii_and_short_row(tmp_path):
    xyz, rgb, instance = make_vertices(6, seed=5)
    path = write_ply(tmp_path / "a.ply", xyz, rgb, instance, "ascii")
    lines = path.read_text().splitlines()
    header_len = lines.index("end_header") + 1
    path.write_text("\n".join(lines[:header_len + 4]) + "\n")
    with pytest.raises(ValueError, match="truncated: 6 vertex lines expected, found 4"):
        read_cloud(path)
    lines[header_len + 2] = " ".join(lines[header_len + 2].split()[:-2])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="vertex 2 has 5 values, the header declares 7"):
        read_cloud(path)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("plx\nformat ascii 1.0\nend_header\n", "not a PLY file"),
        ("ply\nformat binary_middle_endian 1.0\nelement vertex 0\nproperty float x\n"
         "end_header\n", "unknown PLY format"),
        ("ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int v\nend_header\n",
         "no vertex element"),
        ("ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\n"
         "end_header\n", "lacks x, y or z"),
        ("ply\nformat ascii 1.0\nelement vertex 0\nproperty float128 x\nend_header\n",
         "bad PLY header line 4"),
        ("ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int v\n"
         "element vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
         "end_header\n", "list properties comes before the vertices"),
    ],
)
def test_bad_headers_are_reported(tmp_path, header, message):
    path = tmp_path / "bad.ply"
    path.write_bytes(header.encode() + bytes(64))
    with pytest.raises(ValueError, match=rf"bad\.ply: .*{message}"):
        read_cloud(path)
