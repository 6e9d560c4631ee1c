"""Whole-scene transforms: rotation about z, uniform scaling, jitter, colour jitter.

Each returns a new ``Sample`` (inputs are never modified; readers share scenes between
samples) and moves everything that lives in world coordinates together: points, box
centres, sizes and yaw, and camera extrinsics (plus depth for scaling), so that every
camera still sees every point at the same pixel.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from query3d.data.sample import Sample, Scene


def scene_pivot(scene: Scene) -> np.ndarray:
    """Centre of the finite points in xy at z = 0: the scene turns in place about a
    vertical axis, so floors and tables stay where gravity put them."""
    finite = scene.points[np.isfinite(scene.points).all(axis=1)]
    if not len(finite):
        return np.zeros(3)
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.0])


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def wrap_angle(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def _with_scene(sample: Sample, **changes) -> Sample:
    return dataclasses.replace(sample, scene=dataclasses.replace(sample.scene, **changes))


def rotate_z(sample: Sample, angle: float, pivot: np.ndarray | None = None) -> Sample:
    """Turn the scene by ``angle`` radians about the vertical axis through ``pivot``."""
    scene = sample.scene
    pivot = scene_pivot(scene) if pivot is None else np.asarray(pivot, np.float64)
    R = _rz(angle)
    motion = np.eye(4)
    motion[:3, :3] = R
    motion[:3, 3] = pivot - R @ pivot
    x = scene.points[:, 0].astype(np.float64) - pivot[0]
    y = scene.points[:, 1].astype(np.float64) - pivot[1]
    points = scene.points.copy()  # written per column: a skinny (N,3)@(3,3) is slow
    points[:, 0] = R[0, 0] * x + R[0, 1] * y + pivot[0]
    points[:, 1] = R[1, 0] * x + R[1, 1] * y + pivot[1]
    objects = [dataclasses.replace(o, center=R @ (np.asarray(o.center, float) - pivot) + pivot,
                                   yaw=wrap_angle(o.yaw + angle)) for o in scene.objects]
    cameras = [dataclasses.replace(c, T_world_cam=motion @ c.T_world_cam)
               for c in scene.cameras]
    return _with_scene(sample, points=points, objects=objects, cameras=cameras)


def scale(sample: Sample, factor: float, pivot: np.ndarray | None = None) -> Sample:
    """Uniform scaling about ``pivot``. Cameras keep their orientation, their centres
    scale with the scene and their depth images with them, so projections are unchanged.
    Uniform (not per-axis) so that shapes, "largest" and box yaw keep their meaning."""
    if not factor > 0:
        raise ValueError(f"scale factor must be positive, got {factor}")
    scene = sample.scene
    pivot = scene_pivot(scene) if pivot is None else np.asarray(pivot, np.float64)
    points = (pivot + factor * (scene.points.astype(np.float64) - pivot)).astype(np.float32)
    objects = [dataclasses.replace(o, center=pivot + factor * (np.asarray(o.center) - pivot),
                                   size=factor * np.asarray(o.size, float))
               for o in scene.objects]
    cameras = []
    for camera in scene.cameras:
        pose = camera.T_world_cam.copy()
        pose[:3, 3] = pivot + factor * (pose[:3, 3] - pivot)
        depth = None if camera.depth is None else (camera.depth * factor).astype(np.float32)
        cameras.append(dataclasses.replace(camera, T_world_cam=pose, depth=depth))
    return _with_scene(sample, points=points, objects=objects, cameras=cameras)


def jitter(sample: Sample, rng: np.random.Generator, sigma: float, clip: float) -> Sample:
    """Independent Gaussian noise per coordinate, clipped so no point leaves its object
    (boxes and cameras stay: the objects did not move, the sensor was noisier)."""
    points = sample.scene.points
    noise = np.clip(rng.normal(0.0, sigma, size=points.shape), -clip, clip)
    return _with_scene(sample, points=(points + noise).astype(np.float32))


def _affine_colour(values: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    return (values - 0.5) * contrast + 0.5 + brightness


def color_jitter(sample: Sample, rng: np.random.Generator, strength: float,
                 noise: float | None = None) -> Sample:
    """Brightness and contrast shared by all channels (so hue, hence colour words like
    "red", is kept) applied identically to point colours and camera images, plus small
    per-point noise. ``strength`` above 0.2 could turn "dark grey" into "black" and is
    refused."""
    if not 0 <= strength <= 0.2:
        raise ValueError(f"colour jitter strength must be in [0, 0.2], got {strength}")
    brightness = rng.uniform(-strength, strength)
    contrast = 1.0 + rng.uniform(-strength, strength)
    noise = strength / 4 if noise is None else noise
    scene = sample.scene
    colors = scene.colors
    if colors is not None:
        shifted = _affine_colour(colors.astype(np.float64), brightness, contrast)
        shifted += rng.normal(0.0, noise, size=colors.shape) if noise > 0 else 0.0
        colors = np.clip(shifted, 0.0, 1.0).astype(np.float32)
    cameras = []
    for camera in scene.cameras:
        image = _affine_colour(camera.image.astype(np.float64) / 255.0, brightness, contrast)
        image = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
        cameras.append(dataclasses.replace(camera, image=image))
    return _with_scene(sample, colors=colors, cameras=cameras)


def copy_sample(sample: Sample) -> Sample:
    """A copy sharing no array with ``sample``, so the result may be modified in place
    (every array field of the scene is copied, including ones added to ``Scene`` later)."""
    scene = sample.scene
    arrays = {f.name: getattr(scene, f.name).copy() for f in dataclasses.fields(scene)
              if isinstance(getattr(scene, f.name), np.ndarray)}
    copied = dataclasses.replace(
        scene,
        **arrays,
        objects=[dataclasses.replace(o, center=np.array(o.center, float),
                                     size=np.array(o.size, float)) for o in scene.objects],
        cameras=[dataclasses.replace(c, image=c.image.copy(), K=c.K.copy(),
                                     T_world_cam=c.T_world_cam.copy(),
                                     depth=None if c.depth is None else c.depth.copy())
                 for c in scene.cameras],
        class_names=list(scene.class_names),
    )
    return Sample(scene=copied, query=dataclasses.replace(
        sample.query, object_ids=list(sample.query.object_ids)))
