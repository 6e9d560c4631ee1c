"""``.npz`` clouds: keys points, colors (uint8 0-255 or float 0-1), optional instance and
semantic."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.data.readers import read_cloud


def test_uint8_and_float_colours_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(25, 3))
    rgb = rng.integers(0, 256, size=(25, 3)).astype(np.uint8)
    instance = rng.integers(-1, 3, size=25)
    semantic = rng.integers(0, 4, size=25).astype(np.int32)
    np.savez(tmp_path / "a.npz", points=points, colors=rgb, instance=instance,
             semantic=semantic, normals=points * 2)
    cloud = read_cloud(tmp_path / "a.npz")
    assert cloud.scene.points.dtype == np.float32
    np.testing.assert_allclose(cloud.scene.points, points, rtol=1e-6)
    np.testing.assert_allclose(cloud.scene.colors, rgb / 255.0, atol=1e-6)
    np.testing.assert_array_equal(cloud.scene.instance, instance)
    assert cloud.scene.semantic.dtype == np.int64
    np.testing.assert_allclose(cloud.fields["normals"], points * 2)

    np.savez(tmp_path / "b.npz", points=points, colors=rgb / 255.0)
    np.testing.assert_allclose(read_cloud(tmp_path / "b.npz").scene.colors, rgb / 255.0,
                               atol=1e-6)


def test_nan_rows_drop_from_every_array(tmp_path):
    points = np.arange(12, dtype=np.float32).reshape(4, 3)
    points[1, 0] = np.inf
    np.savez(tmp_path / "n.npz", points=points, instance=np.array([5, 6, 7, 8]))
    cloud = read_cloud(tmp_path / "n.npz")
    np.testing.assert_array_equal(cloud.scene.instance, [5, 7, 8])
    np.testing.assert_array_equal(cloud.index, [0, 2, 3])
    assert len(read_cloud(tmp_path / "n.npz", keep_nan=True).scene.points) == 4


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"xyz": np.zeros((3, 3))}, "no 'points' array"),
        ({"points": np.zeros((3, 2))}, r"points must be a numeric \(N, 3\)"),
        ({"points": np.zeros((3, 3)), "colors": np.full((3, 3), 200.0)},
         "float colors must lie in"),
        ({"points": np.zeros((3, 3)), "colors": np.zeros((2, 3))}, r"colors must be \(3, 3\)"),
        ({"points": np.zeros((3, 3)), "instance": np.zeros(3)}, "instance must be an integer"),
        ({"points": np.zeros((3, 3)), "semantic": np.zeros(4, int)},
         "semantic must be an integer"),
    ],
)
def test_bad_arrays_are_reported(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=rf"bad\.npz: .*{message}"):
        read_cloud(tmp_path / "bad.npz")


def test_truncated_archive_and_pickled_objects_are_refused(tmp_path):
    np.savez(tmp_path / "t.npz", points=np.zeros((100, 3)))
    raw = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"t\.npz: not a readable \.npz archive"):
        read_cloud(tmp_path / "t.npz")
    np.savez(tmp_path / "p.npz", points=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"p\.npz: not a readable"):
        read_cloud(tmp_path / "p.npz")
