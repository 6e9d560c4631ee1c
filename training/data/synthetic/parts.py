"""Small constructors that turn readable dimensions (metres) into primitives and parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from query3d.training.data.synthetic.colors import Material
from query3d.training.data.synthetic.primitives import Primitive, Solid


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def box(center, size, rotation: np.ndarray | None = None) -> Primitive:
    """A box by full size (dx, dy, dz)."""
    rot = np.eye(3) if rotation is None else rotation
    return Primitive("box", np.asarray(center, float), np.asarray(size, float) / 2.0, rot)


def cylinder(bottom, radius: float, height: float, top_radius: float | None = None,
             rotation: np.ndarray | None = None) -> Primitive:
    """A cylinder or frustum standing on ``bottom`` (its axis along the rotated z)."""
    rot = np.eye(3) if rotation is None else rotation
    center = np.asarray(bottom, float) + rot @ np.array([0.0, 0.0, height / 2.0])
    taper = 1.0 if top_radius is None else top_radius / radius
    return Primitive("cone", center, np.array([radius, radius, height / 2.0]), rot, taper)


def ellipsoid(center, radii) -> Primitive:
    return Primitive("sphere", np.asarray(center, float), np.asarray(radii, float))


@dataclass(frozen=True)
class Part:
    """One solid with one material. ``accent`` parts (screens, caps, pots) do not carry
    the object's colour name, so colour statistics and queries ignore them."""

    solid: Solid
    material: Material
    accent: bool = False


def part(*prims: Primitive, material: Material, minus: Primitive | None = None,
         accent: bool = False) -> Part:
    return Part(Solid(tuple(prims), minus), material, accent)


@dataclass
class ObjectModel:
    """An object in its own frame: origin at the bottom centre, z up, front towards -y."""

    category: str
    color: str
    parts: list[Part]

    def local_points(self) -> np.ndarray:
        """Corners of all primitives; a cheap superset of the object's extent."""
        return np.concatenate([p.corners() for pt in self.parts for p in pt.solid.parts])

    def local_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.min([pt.solid.bounds()[0] for pt in self.parts], axis=0)
        hi = np.max([pt.solid.bounds()[1] for pt in self.parts], axis=0)
        return lo, hi
