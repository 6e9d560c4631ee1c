"""Kinect-v1-like depth read-out from ideal ray-cast depth.

A structured-light sensor measures disparity, so its error lives in disparity: the
depth noise and the quantisation step grow with z^2 (Khoshelham & Elberink 2012; Nguyen
et al. 2012: sigma_z ~ 1.5 mm at 1 m, ~ 5 mm at 2 m). Depth goes missing where the
projector's pattern cannot reach (its shadow beside foreground edges), where the pattern
is not seen back (dark, glossy, grazing surfaces) and on depth edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class KinectModel:
    focal_baseline: float = 525.0 * 0.075  # f [px] * projector baseline [m]
    disparity_sigma: float = 0.05  # white disparity noise, px
    correlated_sigma: float = 0.02  # spatially correlated disparity noise, px
    depth_floor_sigma: float = 0.0006  # distance-independent depth noise, m
    correlation_px: int = 6  # size of the correlated blobs
    subpixel: float = 1.0 / 8.0  # disparity quantisation step, px
    min_range: float = 0.45
    max_range: float = 4.5
    grazing_cos: float = 0.12  # below: no return
    dark_luminance: float = 0.025  # linear albedo below which returns fade
    dark_drop: float = 0.35  # drop share on the darkest surfaces
    gloss_drop: float = 0.8  # drop share where a glossy surface mirrors the projector
    edge_drop: float = 0.2  # drop share on depth discontinuities
    speckle_drop: float = 0.001  # isolated random holes
    radial_distortion: float = 0.01  # relative depth bend at the image corners (max)


def projector_shadow(z: np.ndarray, focal_baseline: float) -> np.ndarray:
    """Pixels the projector (to the camera's right) cannot see: the band left of edges.

    A pixel u with disparity D(u) lands at projector column s(u) = u - D(u); it is lit
    only if no pixel to its right maps at or left of s(u) (that pixel is closer).
    """
    width = z.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.arange(width)[None, :] - focal_baseline / z
    s = np.where(np.isfinite(s), s, np.inf)
    right_min = np.minimum.accumulate(s[:, ::-1], axis=1)[:, ::-1]
    right_min = np.concatenate([right_min[:, 1:], np.full((z.shape[0], 1), np.inf)], axis=1)
    return s > right_min + 0.5


def _blobs(shape: tuple[int, int], rng: np.random.Generator, cell: int) -> np.ndarray:
    """Smooth random field in [0, 1]: drop-outs come in patches, not salt noise."""
    coarse = rng.random((shape[0] // cell + 2, shape[1] // cell + 2), dtype=np.float32)
    blocks = np.repeat(np.repeat(coarse, cell, axis=0), cell, axis=1)[: shape[0], : shape[1]]
    return ndimage.uniform_filter(blocks, size=cell, mode="nearest")  # ~bilinear, cheaper


def kinect_depth(z_true: np.ndarray, normal: np.ndarray, view: np.ndarray,
                 luminance: np.ndarray, specular: np.ndarray, rng: np.random.Generator,
                 model: KinectModel = KinectModel()) -> np.ndarray:
    """Measured depth (H, W) in metres, NaN where the sensor returns nothing.

    ``normal``/``view`` are (H, W, 3) unit vectors, ``luminance``/``specular`` the hit
    surface's albedo luminance and gloss (0 where nothing was hit).
    """
    if z_true.ndim != 2:
        raise ValueError(f"depth must be (H, W), got {z_true.shape}")
    z = np.where(np.isfinite(z_true), z_true, np.nan).astype(np.float32)
    valid = np.isfinite(z) & (z > model.min_range) & (z < model.max_range)
    valid &= ~projector_shadow(np.where(valid, z, np.nan), model.focal_baseline)
    cos = np.abs(np.einsum("hwc,hwc->hw", normal, view))
    valid &= cos > model.grazing_cos
    # Each drop-out cause gets its own uniform draw, so the causes stay independent.
    draw = rng.random((4, *z.shape), dtype=np.float32)
    grazing_drop = 0.15 * (1.0 - np.clip((cos - model.grazing_cos) / 0.2, 0.0, 1.0))
    valid &= draw[0] >= grazing_drop
    darkness = np.clip((model.dark_luminance - luminance) / model.dark_luminance, 0.0, 1.0)
    valid &= _blobs(z.shape, rng, 8) > model.dark_drop * darkness
    mirror = np.clip(specular * np.clip((cos - 0.97) / 0.03, 0.0, 1.0) * 2.0, 0.0,
                     model.gloss_drop)
    valid &= draw[1] >= mirror
    valid &= ~(_depth_edges(np.where(valid, z, np.nan)) & (draw[2] < model.edge_drop))
    valid &= draw[3] >= model.speckle_drop
    # Low-frequency radial depth bias of structured-light sensors (Herrera et al. 2012).
    h, w = z.shape
    yy = ((np.arange(h) - h / 2) / (h / 2)) ** 2
    xx = ((np.arange(w) - w / 2) / (w / 2)) ** 2
    strength = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * model.radial_distortion
    bend = 1.0 + strength * (yy[:, None] + xx) / 2
    noise = rng.standard_normal((2, *z.shape), dtype=np.float32)
    z_noisy = np.where(valid, z, 1.0) * bend + model.depth_floor_sigma * noise[0]
    correlated = _blobs(z.shape, rng, model.correlation_px) - 0.5
    disparity = (model.focal_baseline / z_noisy + model.disparity_sigma * noise[1]
                 + correlated * (model.correlated_sigma * np.sqrt(12.0)))
    disparity = np.round(disparity / model.subpixel) * model.subpixel
    measured = model.focal_baseline / np.maximum(disparity, 1e-3)
    return np.where(valid, measured, np.nan).astype(np.float32)


def _depth_edges(z: np.ndarray, relative_jump: float = 0.03) -> np.ndarray:
    """Valid pixels next to a depth jump larger than ``relative_jump`` * z."""
    filled = np.where(np.isfinite(z), z, 0.0)
    hi = ndimage.maximum_filter(filled, size=3)
    lo = ndimage.minimum_filter(np.where(np.isfinite(z), z, np.inf), size=3)
    return np.isfinite(z) & ((hi - lo) > relative_jump * np.nan_to_num(z, nan=1.0))


def depth_to_millimetres(depth: np.ndarray) -> np.ndarray:
    """16-bit Kinect-style depth image: millimetres, 0 where missing."""
    mm = np.where(np.isfinite(depth), np.round(depth * 1000.0), 0.0)
    if mm.max(initial=0) > 65535:
        raise ValueError("depth beyond 65.535 m cannot be stored as 16-bit millimetres")
    return mm.astype(np.uint16)
