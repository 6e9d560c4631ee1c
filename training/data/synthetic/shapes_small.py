"""Shapes of the objects that stand on a table. Sizes are metres, sampled per instance.

Each builder takes (rng, colour name) and returns the object's parts in its own frame
(origin at the bottom centre, z up, front towards -y).
"""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.colors import fixed_material, material
from query3d.training.data.synthetic.parts import (
    Part,
    box,
    cylinder,
    ellipsoid,
    part,
    rot_x,
)

BLACK_GLASS = fixed_material((18, 20, 24), specular=0.6, shininess=80.0, texture="screen")
DARK_PLASTIC = fixed_material((35, 35, 38), specular=0.15, shininess=30.0)
METAL = fixed_material((170, 170, 175), specular=0.5, shininess=60.0)
SOIL = fixed_material((60, 40, 25))
PAPER = fixed_material((238, 234, 220))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def build_box(rng, color: str) -> list[Part]:
    size = [_u(rng, 0.07, 0.24), _u(rng, 0.07, 0.2), _u(rng, 0.05, 0.2)]
    return [part(box([0, 0, size[2] / 2], size), material=material(color, rng))]


def build_can(rng, color: str) -> list[Part]:
    r, h = _u(rng, 0.028, 0.036), _u(rng, 0.1, 0.135)
    body = part(cylinder([0, 0, 0], r, h - 0.004), material=material(
        color, rng, specular=0.35, shininess=50.0))
    lid = part(cylinder([0, 0, h - 0.004], r * 0.93, 0.004), material=METAL, accent=True)
    return [body, lid]


def build_mug(rng, color: str) -> list[Part]:
    r, h = _u(rng, 0.035, 0.045), _u(rng, 0.08, 0.11)
    wall, floor = 0.005, 0.008
    mat = material(color, rng, specular=0.25, shininess=40.0)
    body = part(cylinder([0, 0, 0], r, h), material=mat,
                minus=cylinder([0, 0, floor], r - wall, 2 * h))
    ring_r = 0.32 * h
    ring_axis = rot_x(np.pi / 2)  # ring lies in the x-z plane
    ring_center = np.array([r + 0.004, 0.0, h * 0.52])
    handle = part(
        cylinder(ring_center + [0, 0.006, 0], ring_r, 0.012, rotation=ring_axis),
        box([r + 0.05, 0, h / 2], [0.1 + 2 * 0.004, 0.05, h]),
        material=mat,
        minus=cylinder(ring_center + [0, 0.02, 0], ring_r - 0.009, 0.04, rotation=ring_axis),
    )
    return [body, handle]


def build_cup(rng, color: str) -> list[Part]:
    rb, h = _u(rng, 0.024, 0.032), _u(rng, 0.08, 0.12)
    rt, wall, floor = rb * _u(rng, 1.25, 1.45), 0.003, 0.006

    def radius_at(z: float) -> float:
        return rb + (rt - rb) * z / h - wall

    top = h + 0.03
    hollow = cylinder([0, 0, floor], radius_at(floor), top - floor, top_radius=radius_at(top))
    return [part(cylinder([0, 0, 0], rb, h, top_radius=rt), minus=hollow,
                 material=material(color, rng, specular=0.1))]


def build_bowl(rng, color: str) -> list[Part]:
    r = _u(rng, 0.06, 0.09)
    c = r * _u(rng, 0.6, 0.75)
    foot, wall = 0.12 * c, 0.005
    center = [0, 0, c - foot]  # the flat foot at z = 0
    shell = part(
        ellipsoid(center, [r, r, c]),
        box([0, 0, (c - foot) / 2], [2 * r, 2 * r, c - foot]),
        minus=ellipsoid(center, [r - wall, r - wall, c - wall]),
        material=material(color, rng, specular=0.3, shininess=40.0),
    )
    return [shell]


def build_plate(rng, color: str) -> list[Part]:
    r, h = _u(rng, 0.09, 0.13), _u(rng, 0.015, 0.022)
    return [part(cylinder([0, 0, 0], r / 1.15, h, top_radius=r),
                 minus=cylinder([0, 0, h * 0.55], r * 0.72, h),
                 material=material(color, rng, specular=0.3, shininess=40.0))]


def build_bottle(rng, color: str) -> list[Part]:
    r, h = _u(rng, 0.03, 0.04), _u(rng, 0.14, 0.2)
    shoulder, neck, cap = 0.04, 0.035, 0.02
    mat = material(color, rng, specular=0.45, shininess=70.0)
    cap_mat = material(str(rng.choice(["white", "black", "red", "blue"])), rng)
    return [
        part(cylinder([0, 0, 0], r, h), material=mat),
        part(cylinder([0, 0, h], r, shoulder, top_radius=r * 0.4), material=mat),
        part(cylinder([0, 0, h + shoulder - 0.001], r * 0.4, neck), material=mat),
        part(cylinder([0, 0, h + shoulder + neck - 0.002], r * 0.45, cap),
             material=cap_mat, accent=True),
    ]


def build_ball(rng, color: str) -> list[Part]:
    r = _u(rng, 0.03, 0.1)
    return [part(ellipsoid([0, 0, r], [r, r, r]),
                 material=material(color, rng, specular=0.15, texture="speckle"))]


def build_book(rng, color: str) -> list[Part]:
    length, width, thick = _u(rng, 0.15, 0.26), _u(rng, 0.11, 0.18), _u(rng, 0.015, 0.05)
    cover = part(box([0, 0, thick / 2], [length, width, thick]),
                 material=material(color, rng, specular=0.12))
    # Pages stick out a hair on three sides so the white edge shows.
    pages = part(box([0.0015, 0, thick / 2], [length - 0.006, width + 0.0015, thick * 0.8]),
                 material=PAPER, accent=True)
    return [cover, pages]


def build_laptop(rng, color: str) -> list[Part]:
    w, d, t = _u(rng, 0.3, 0.36), _u(rng, 0.21, 0.25), _u(rng, 0.015, 0.02)
    tilt = np.radians(_u(rng, 5.0, 30.0))  # lid leans back from vertical
    mat = material(color, rng, specular=0.35, shininess=50.0)
    lid_rot = rot_x(-tilt)
    hinge = np.array([0.0, d / 2 - 0.004, t])
    lid_center = hinge + lid_rot @ np.array([0.0, 0.0, d / 2])
    screen_center = hinge + lid_rot @ np.array([0.0, -0.004, d / 2])
    return [
        part(box([0, 0, t / 2], [w, d, t]), material=mat),
        part(box([0, -0.02, t + 0.0005], [w * 0.85, d * 0.45, 0.002]),
             material=DARK_PLASTIC, accent=True),
        part(box(lid_center, [w, 0.006, d], lid_rot), material=mat),
        part(box(screen_center, [w * 0.92, 0.004, d * 0.88], lid_rot),
             material=BLACK_GLASS, accent=True),
    ]


def build_monitor(rng, color: str) -> list[Part]:
    w, h, t = _u(rng, 0.42, 0.58), _u(rng, 0.27, 0.36), _u(rng, 0.025, 0.045)
    lift = _u(rng, 0.07, 0.12)
    mat = material(color, rng, specular=0.2)
    base_d = 0.18
    return [
        part(box([0, 0, 0.0075], [0.22, base_d, 0.015]), material=mat),
        part(box([0, 0.02, (lift + 0.05) / 2], [0.05, 0.03, lift + 0.05]), material=mat),
        part(box([0, 0, lift + h / 2], [w, t, h]), material=mat),
        part(box([0, -t / 2 - 0.001, lift + h / 2], [w * 0.95, 0.004, h * 0.92]),
             material=BLACK_GLASS, accent=True),
    ]


def build_keyboard(rng, color: str) -> list[Part]:
    w, d, t = _u(rng, 0.38, 0.46), _u(rng, 0.12, 0.16), _u(rng, 0.018, 0.028)
    mat = material(color, rng, specular=0.1)
    keys = material(color, rng, specular=0.1, texture="speckle")
    return [
        part(box([0, 0, t / 2], [w, d, t]), material=mat),
        part(box([0, 0, t + 0.003], [w * 0.94, d * 0.85, 0.006]), material=keys),
    ]


def build_phone(rng, color: str) -> list[Part]:
    w, d, t = _u(rng, 0.068, 0.08), _u(rng, 0.14, 0.165), _u(rng, 0.007, 0.01)
    body = part(box([0, 0, t / 2], [w, d, t]), material=material(color, rng, specular=0.3))
    if rng.random() < 0.5:
        return [body]  # lying face down: only the coloured back shows
    return [body, part(box([0, 0, t + 0.0005], [w * 0.78, d * 0.82, 0.001]),
                       material=BLACK_GLASS, accent=True)]


def build_apple(rng, color: str) -> list[Part]:
    r = _u(rng, 0.034, 0.045)
    return [
        part(ellipsoid([0, 0, 0.9 * r], [r, r, 0.9 * r]),
             material=material(color, rng, specular=0.3, shininess=30.0)),
        part(cylinder([0, 0, 1.75 * r], 0.003, 0.015), material=SOIL, accent=True),
    ]


def build_plant(rng, color: str, scale: float = 1.0) -> list[Part]:
    rb, h = _u(rng, 0.04, 0.055) * scale, _u(rng, 0.07, 0.11) * scale
    rt = rb * 1.3
    pot = material(str(rng.choice(["brown", "orange", "white", "grey"])), rng)
    parts = [
        part(cylinder([0, 0, 0], rb, h, top_radius=rt), material=pot, accent=True),
        part(cylinder([0, 0, h - 0.01 * scale], rt * 0.95, 0.012 * scale), material=SOIL,
             accent=True),
    ]
    for _ in range(int(rng.integers(3, 6))):
        ang, off = rng.uniform(0, 2 * np.pi), rng.uniform(0, rt * 0.6)
        rx = rng.uniform(0.5, 0.9) * rt
        rz = rng.uniform(0.8, 1.6) * rt
        c = [off * np.cos(ang), off * np.sin(ang), h + rz * 0.8]
        parts.append(part(ellipsoid(c, [rx, rx * rng.uniform(0.7, 1.0), rz]),
                          material=material(color, rng, specular=0.1, texture="speckle")))
    return parts


def build_lamp(rng, color: str, scale: float = 1.0) -> list[Part]:
    pole_h = _u(rng, 0.25, 0.38) * scale
    rb, rs = 0.07 * max(1.0, scale / 2), _u(rng, 0.08, 0.1) * max(1.0, scale / 2.5)
    shade_h = 0.12 * max(1.0, scale / 2.5)
    base = material(str(rng.choice(["black", "grey", "white"])), rng, specular=0.3)
    shade_z = pole_h - shade_h * 0.4
    return [
        part(cylinder([0, 0, 0], rb, 0.02), material=base, accent=True),
        part(cylinder([0, 0, 0.02], 0.008, pole_h), material=base, accent=True),
        part(cylinder([0, 0, shade_z], rs, shade_h, top_radius=rs * 0.55),
             minus=cylinder([0, 0, shade_z - 0.01], rs - 0.004, shade_h,
                            top_radius=rs * 0.55 - 0.004),
             material=material(color, rng, specular=0.05)),
    ]


def build_vase(rng, color: str) -> list[Part]:
    rb, h = _u(rng, 0.035, 0.055), _u(rng, 0.15, 0.26)
    rt, wall = rb * _u(rng, 0.65, 1.35), 0.004
    hollow = cylinder([0, 0, 0.01], rb - wall, h + 0.04,
                      top_radius=rb + (rt - rb) * (h + 0.05) / h - wall)
    return [part(cylinder([0, 0, 0], rb, h, top_radius=rt), minus=hollow,
                 material=material(color, rng, specular=0.5, shininess=60.0))]
