"""Where the RGB-D cameras stand, and one rendered RGB-D frame per camera."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from query3d.training.data.synthetic.camera import PinholeCamera, kinect_intrinsics, look_at
from query3d.training.data.synthetic.layout import SceneLayout
from query3d.training.data.synthetic.render import RenderItem, cast, shadow_lookup
from query3d.training.data.synthetic.sensor import KinectModel, kinect_depth
from query3d.training.data.synthetic.shade import Lighting, auto_exposure, sensor_rgb, shade


@dataclass
class RenderedView:
    camera: PinholeCamera
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres, NaN where the sensor has no return
    instance: np.ndarray  # (H, W) int32 true first-hit instance, -1 background
    semantic: np.ndarray  # (H, W) int32


def _orbit(target: np.ndarray, distance: float, azimuth: float, elevation: float):
    offset = distance * np.array([np.cos(elevation) * np.cos(azimuth),
                                  np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    return target + offset


def place_cameras(layout: SceneLayout, rng: np.random.Generator, count: int,
                  width: int = 640, height: int = 480) -> list[PinholeCamera]:
    """Camera 0 is the robot's head camera; the others look from the sides."""
    if not 1 <= count <= 3:
        raise ValueError(f"camera count must be 1-3, got {count}")
    K = kinect_intrinsics(width, height)
    focus = layout.focus
    cams = []
    if layout.kind == "tabletop":
        target = focus + [rng.uniform(-0.05, 0.1), rng.uniform(-0.12, 0.12), 0.0]
        eye = _orbit(target, rng.uniform(0.7, 1.1), np.pi + rng.uniform(-0.3, 0.3),
                     np.radians(rng.uniform(25, 50)))
        side_az = [np.pi / 2, -np.pi / 2, np.pi - 0.8, np.pi + 0.8]
        extra = [_orbit(focus, rng.uniform(0.9, 1.2) + 0.5 * layout.extent,
                        side_az[int(i)] + rng.uniform(-0.3, 0.3),
                        np.radians(rng.uniform(30, 55)))
                 for i in rng.permutation(len(side_az))[: count - 1]]
        targets = [target] + [focus + rng.uniform(-0.08, 0.08, 3) * [1, 1, 0]] * (count - 1)
    else:
        eye = np.array([0.0, rng.uniform(-0.2, 0.2), rng.uniform(1.2, 1.6)])
        target = focus + [rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), 0.0]
        corners = [np.array([layout.crop_hi[0] - 0.3, s * (layout.crop_hi[1] - 0.3), 2.1])
                   for s in (1, -1)]
        corners += [np.array([0.3, s * (layout.crop_hi[1] - 0.3), 2.1]) for s in (1, -1)]
        extra = [corners[int(i)] + rng.uniform(-0.15, 0.15, 3)
                 for i in rng.permutation(4)[: count - 1]]
        targets = [target] + [focus] * (count - 1)
    for k, (e, t) in enumerate(zip([eye, *extra], targets)):
        cams.append(PinholeCamera(f"cam{k}", K, look_at(e, t), width, height))
    return cams


def render_view(camera: PinholeCamera, items: list[RenderItem], lighting: Lighting,
                shadow_grid, shadow_hits, rng: np.random.Generator,
                kinect: KinectModel) -> RenderedView:
    """RGB, Kinect depth and the true instance/semantic label of every pixel.

    Material arrays get a last "nothing" row, so index -1 (no hit) needs no masking.
    """
    hits = cast(camera, items)
    origin, dirs = camera.rays(None)
    view = camera.unit_rays()
    k = hits.item
    hit = k >= 0
    points = origin + np.where(hit, hits.t, 0.0)[:, None] * dirs
    lit = shadow_lookup(shadow_grid, shadow_hits, points)
    radiance = shade(points, hits.normal, view, k, items, lighting, lit)
    radiance[~hit] = 0.0
    radiance *= auto_exposure(radiance[hit])
    rgb = sensor_rgb(radiance, camera.height, camera.width, rng)
    shape = (camera.height, camera.width)
    lum = np.array([it.material.luminance for it in items] + [0.0])
    spec = np.array([it.material.specular for it in items] + [0.0])
    inst = np.array([it.instance for it in items] + [-1], dtype=np.int32)
    sem = np.array([it.semantic for it in items] + [-1], dtype=np.int32)
    depth = kinect_depth(hits.image(np.where(hit, hits.t, np.inf)), hits.image(hits.normal),
                         hits.image(view), lum[k].reshape(shape), spec[k].reshape(shape),
                         rng, kinect)
    return RenderedView(camera, rgb, depth, inst[k].reshape(shape), sem[k].reshape(shape))
