"""The Kinect-like depth model: noise vs distance, quantisation, where depth goes missing."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.data.readers.scene_folder import millimetres_to_depth
from query3d.training.data.synthetic.sensor import (
    KinectModel,
    depth_to_millimetres,
    kinect_depth,
    projector_shadow,
)

H, W = 120, 160


def _flat(z: float, luminance: float = 0.5, specular: float = 0.0):
    """A fronto-parallel plane at depth z, facing the camera."""
    normal = np.zeros((H, W, 3))
    normal[..., 2] = -1.0
    view = np.zeros((H, W, 3))
    view[..., 2] = 1.0
    return (np.full((H, W), z), normal, view, np.full((H, W), luminance),
            np.full((H, W), specular))


def _error_std(z: float, seed: int = 0) -> float:
    """Depth error on a plane tilted across many quantisation levels around ``z``."""
    data = list(_flat(z))
    data[0] = z * np.linspace(0.97, 1.03, W)[None, :].repeat(H, axis=0)
    measured = kinect_depth(*data, np.random.default_rng(seed),
                            KinectModel(radial_distortion=0.0))
    err = (measured - data[0])[np.isfinite(measured)]
    return float(err.std())


def test_depth_noise_grows_with_distance() -> None:
    near, mid, far = _error_std(0.7), _error_std(1.5), _error_std(3.0)
    assert near < mid < far
    # Structured light errors live in disparity and grow ~z^2 (Khoshelham & Elberink):
    # about 1 mm at 0.7 m, centimetres at 3 m.
    assert 0.4e-3 < near < 1.5e-3
    assert far > 6 * near


def test_depth_is_quantised_in_disparity() -> None:
    z = np.linspace(0.95, 1.05, W)[None, :].repeat(H, axis=0)
    data = list(_flat(1.0))
    data[0] = z
    model = KinectModel(disparity_sigma=0.0, correlated_sigma=0.0, depth_floor_sigma=0.0,
                        radial_distortion=0.0)
    measured = kinect_depth(*data, np.random.default_rng(1), model)
    levels = np.unique(np.round(measured[np.isfinite(measured)], 6))
    step = np.median(np.diff(levels))
    expected = 1.0**2 * model.subpixel / model.focal_baseline  # dz = z^2 dd / (f b)
    assert step == pytest.approx(expected, rel=0.1)


def test_projector_shadow_lies_left_of_a_foreground_edge() -> None:
    z = np.full((10, 200), 2.0)
    z[:, 100:140] = 1.0  # a box in front of a wall
    shadow = projector_shadow(z, 525.0 * 0.075)
    width = 525.0 * 0.075 * (1 / 1.0 - 1 / 2.0)  # disparity jump, pixels
    cols = np.flatnonzero(shadow[0])
    assert cols.min() >= 100 - np.ceil(width) - 1 and cols.max() < 100
    assert len(cols) == pytest.approx(width, abs=1.5)
    assert not shadow[:, 100:].any()  # nothing on the box or right of it


def test_dark_glossy_and_grazing_surfaces_lose_depth() -> None:
    rng = np.random.default_rng(2)

    def valid_share(luminance=0.5, specular=0.0, cos=1.0):
        z, normal, view, lum, spec = _flat(1.0, luminance, specular)
        normal = np.zeros_like(normal)
        normal[..., 0] = np.sqrt(1 - cos**2)
        normal[..., 2] = -cos
        return float(np.isfinite(kinect_depth(z, normal, view, lum, spec, rng)).mean())

    bright = valid_share()
    assert bright > 0.97
    assert valid_share(luminance=0.005) < bright - 0.15
    assert valid_share(specular=0.6) < bright - 0.3
    assert valid_share(cos=0.05) == 0.0


def test_millimetre_png_round_trip_and_limits() -> None:
    depth = np.array([[0.5, np.nan], [1.2345, 4.0]], dtype=np.float32)
    mm = depth_to_millimetres(depth)
    assert mm.dtype == np.uint16 and mm[0, 1] == 0 and mm[1, 0] == 1234
    back = millimetres_to_depth(mm)
    assert np.isnan(back[0, 1]) and back[1, 1] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="16-bit"):
        depth_to_millimetres(np.array([[70.0]]))
    with pytest.raises(ValueError, match="depth must be"):
        kinect_depth(np.ones(5), *(np.ones(5),) * 4, np.random.default_rng(0))
