"""A small, real tabletop for the full-network tests: objects sampled as coloured surface
points, with instance labels, boxes and an optional overhead camera.

Kept here (not the project's synthetic generator) so the network tests depend only on the
network: a grey table, a red box, a blue box, a green cylinder and a yellow box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from query3d.data.sample import CameraView

COLOURS = {"grey": (0.5, 0.5, 0.5), "red": (0.85, 0.1, 0.1), "blue": (0.1, 0.2, 0.85),
           "green": (0.1, 0.7, 0.2), "yellow": (0.9, 0.8, 0.1)}
CLASS_NAMES = ["table", "box", "cylinder"]


@dataclass
class Tabletop:
    points: np.ndarray  # (N, 3) float32
    colors: np.ndarray  # (N, 3) float32
    instance: np.ndarray  # (N,) int64: -1 table, 0 red box, 1 blue box, 2 cylinder, 3 yellow
    names: list[str]  # "red box", ... per instance id

    def box_of(self, instance_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned centre and size of an instance's points."""
        p = self.points[self.instance == instance_id]
        return (p.min(0) + p.max(0)) / 2, p.max(0) - p.min(0)


def _box(rng: np.random.Generator, xy: tuple[float, float], size: np.ndarray, n: int):
    """Points on the top and the four sides of a box standing on the table."""
    faces = [(2, 1.0), (0, -1.0), (0, 1.0), (1, -1.0), (1, 1.0)]
    area = np.array([np.prod(np.delete(size, axis)) for axis, _ in faces])
    which = rng.choice(len(faces), n, p=area / area.sum())
    local = rng.uniform(-0.5, 0.5, (n, 3)) * size
    for i, (axis, sign) in enumerate(faces):
        local[which == i, axis] = 0.5 * size[axis] * sign
    return local + np.array([xy[0], xy[1], size[2] / 2])


def _cylinder(rng: np.random.Generator, xy: tuple[float, float], radius: float, height: float,
              n: int):
    angle, z = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, height, n)
    return np.stack([xy[0] + radius * np.cos(angle), xy[1] + radius * np.sin(angle), z], 1)


def tabletop(seed: int = 0, per_object: int = 150, table: int = 300) -> Tabletop:
    rng = np.random.default_rng(seed)
    parts = [
        ("table", "grey", np.c_[rng.uniform(-0.4, 0.4, (table, 2)), np.zeros(table)]),
        ("red box", "red", _box(rng, (0.18, 0.1), np.array([0.12, 0.08, 0.10]), per_object)),
        ("blue box", "blue", _box(rng, (-0.2, -0.12), np.array([0.1, 0.1, 0.08]), per_object)),
        ("green cylinder", "green", _cylinder(rng, (-0.05, 0.18), 0.04, 0.12, per_object)),
        ("yellow box", "yellow", _box(rng, (0.12, -0.18), np.array([0.08, 0.14, 0.06]),
                                      per_object)),
    ]
    pts, cols, inst = [], [], []
    for i, (_, colour, p) in enumerate(parts):
        pts.append(p)
        inst.append(np.full(len(p), i - 1, dtype=np.int64))
        cols.append(np.clip(np.array(COLOURS[colour]) + rng.normal(0, 0.03, p.shape), 0, 1))
    return Tabletop(np.concatenate(pts).astype(np.float32),
                    np.concatenate(cols).astype(np.float32), np.concatenate(inst),
                    [name for name, _, _ in parts[1:]])


def overhead_camera(height_px: int = 48, width_px: int = 64, seed: int = 0) -> CameraView:
    """A camera 1 m above the table looking straight down (optical z = world -z)."""
    f = 0.9 * width_px
    K = np.array([[f, 0, width_px / 2], [0, f, height_px / 2], [0, 0, 1]], dtype=np.float64)
    T = np.eye(4)
    T[:3, :3] = np.diag([1.0, -1.0, -1.0])
    T[:3, 3] = [0.0, 0.0, 1.0]
    image = np.random.default_rng(seed).integers(0, 255, (height_px, width_px, 3), np.uint8)
    return CameraView(image=image, K=K, T_world_cam=T)
