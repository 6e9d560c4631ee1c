"""Colour image formation: Blinn-Phong shading, procedural textures, shadows, sensor noise.

Shading follows real RGB-D captures closely enough that colour statistics and the look
of the image match Kinect tabletop scans: a soft ceiling key light that casts shadows,
a fill light, ambient bounce, glossy highlights, auto-exposure and a noisy 8-bit sRGB
read-out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from query3d.training.data.synthetic.colors import linear_to_srgb
from query3d.training.data.synthetic.linalg3 import dot3
from query3d.training.data.synthetic.render import RenderItem

TEXTURES = ("none", "wood", "speckle", "screen")


@dataclass
class Lighting:
    key_dir: np.ndarray  # unit, direction the key light travels
    key: float
    fill_dir: np.ndarray
    fill: float
    ambient: float
    tint: np.ndarray  # (3,) white balance of the light


def random_lighting(rng: np.random.Generator) -> Lighting:
    az, el = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(55, 80))
    key_dir = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    az2 = az + np.pi + rng.uniform(-0.6, 0.6)
    fill_dir = -np.array([0.6 * np.cos(az2), 0.6 * np.sin(az2), 0.8])
    tint = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 1.0)])
    return Lighting(key_dir, rng.uniform(0.7, 1.1), fill_dir / np.linalg.norm(fill_dir),
                    rng.uniform(0.25, 0.4), rng.uniform(0.6, 0.8), tint)


def _hash_noise(points: np.ndarray, cell: float) -> np.ndarray:
    """Deterministic value noise in [0, 1) from quantised positions (no RNG state)."""
    q = np.floor(points / cell)
    h = np.sin(dot3(q, (12.9898, 78.233, 37.719))) * 43758.5453
    return h - np.floor(h)


def _texture_factor(texture: np.ndarray, points: np.ndarray) -> np.ndarray:
    factor = np.ones(len(points))
    wood = texture == 1
    if np.any(wood):
        p = points[wood]
        grain = np.sin(p[:, 0] * 90.0 + 3.0 * np.sin(p[:, 1] * 7.0)) * 0.5 + 0.5
        factor[wood] = 0.92 + 0.1 * grain + 0.05 * _hash_noise(p, 0.004)
    speckle = texture == 2
    if np.any(speckle):
        factor[speckle] = 0.88 + 0.24 * _hash_noise(points[speckle], 0.006)
    screen = texture == 3
    if np.any(screen):
        factor[screen] = 0.8 + 0.4 * _hash_noise(points[screen], 0.05)
    return factor


def shade(points: np.ndarray, normal: np.ndarray, view: np.ndarray, k: np.ndarray,
          items: list[RenderItem], light: Lighting, lit_fraction: np.ndarray) -> np.ndarray:
    """Linear RGB radiance (M, 3) of M surface hits on items ``k`` (-1: nothing hit).

    ``view`` is the unit ray direction, ``lit_fraction`` the key light's shadow term.
    """
    # A last all-zero row answers k = -1 (no hit).
    albedo = np.array([it.material.albedo for it in items] + [(0.0, 0.0, 0.0)],
                      dtype=np.float32)
    spec = np.array([it.material.specular for it in items] + [0.0], dtype=np.float32)
    shin = np.array([it.material.shininess for it in items] + [1.0], dtype=np.float32)
    texture = np.array([TEXTURES.index(it.material.texture) for it in items] + [0])
    nx, ny, nz = (normal[:, i].astype(np.float32) for i in range(3))
    vx, vy, vz = (view[:, i].astype(np.float32) for i in range(3))
    # Surfaces are seen from the front: flip normals of inner walls toward the viewer.
    flip = np.where(nx * vx + ny * vy + nz * vz > 0, np.float32(-1), np.float32(1))
    nx, ny, nz = nx * flip, ny * flip, nz * flip
    key = (-light.key_dir).tolist()
    fill = (-light.fill_dir).tolist()
    key_lambert = np.maximum(nx * key[0] + ny * key[1] + nz * key[2], 0.0) * lit_fraction
    fill_lambert = np.maximum(nx * fill[0] + ny * fill[1] + nz * fill[2], 0.0)
    diffuse = light.ambient + light.key * key_lambert + light.fill * fill_lambert
    hx, hy, hz = key[0] - vx, key[1] - vy, key[2] - vz
    cos_h = np.maximum((nx * hx + ny * hy + nz * hz) / np.sqrt(hx * hx + hy * hy + hz * hz),
                       1e-6)
    highlight = light.key * (key_lambert > 0) * lit_fraction * np.exp(
        shin[k] * np.log(cos_h))
    base = albedo[k] * _texture_factor(texture[k], points)[:, None].astype(np.float32)
    radiance = base * diffuse[:, None] + (spec[k] * highlight)[:, None]
    return radiance * light.tint.astype(np.float32)


_SRGB_LUT_SIZE = 4096
_SRGB_LUT = np.round(linear_to_srgb(np.linspace(0.0, 1.0, _SRGB_LUT_SIZE)) * 255.0).astype(
    np.uint8)


def sensor_rgb(radiance: np.ndarray, height: int, width: int, rng: np.random.Generator,
               noise: float = 0.012, saturation: float = 0.6,
               flare: float = 0.012) -> np.ndarray:
    """8-bit sRGB image with shot-like noise and a mild vignette (radiance is (H*W, 3))."""
    img = radiance.reshape(height, width, 3).astype(np.float32)
    # Consumer RGB-D cameras render colours washed out: desaturate, lift the blacks.
    lum = dot3(img, (0.2126, 0.7152, 0.0722))[..., None]
    img = lum + saturation * (img - lum) + flare
    yy = ((np.arange(height, dtype=np.float32) - height / 2) / height) ** 2
    xx = ((np.arange(width, dtype=np.float32) - width / 2) / width) ** 2
    img *= (1.0 - 0.15 * (yy[:, None] + xx[None, :]))[..., None]
    shot = rng.standard_normal(img.shape, dtype=np.float32)
    img += shot * noise * np.sqrt(np.maximum(img, 1e-4))
    code = np.clip(img * (_SRGB_LUT_SIZE - 1) + 0.5, 0, _SRGB_LUT_SIZE - 1).astype(np.int32)
    return _SRGB_LUT[code]


def auto_exposure(radiance: np.ndarray, target: float = 0.3) -> float:
    """Scale so the median lit pixel sits at ``target`` linear (about sRGB 150)."""
    lum = dot3(radiance, (0.2126, 0.7152, 0.0722))
    lit = lum[lum > 0]
    if len(lit) == 0:
        return 1.0
    return float(target / max(np.median(lit), 1e-6))
