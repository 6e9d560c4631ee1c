"""Shapes of furniture: the table that carries a tabletop scene, and what fills a room."""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.colors import fixed_material, material
from query3d.training.data.synthetic.parts import Part, box, cylinder, part
from query3d.training.data.synthetic.shapes_small import METAL, build_lamp, build_plant


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def table_parts(rng, color: str, width: float, depth: float, height: float) -> list[Part]:
    """A four-legged table of the given footprint; brown tables get a wood grain."""
    top_t, leg = _u(rng, 0.025, 0.04), _u(rng, 0.04, 0.06)
    if color == "brown":  # light wood, the usual lab and office table top
        wood = tuple(int(c) for c in rng.integers([150, 110, 70], [200, 160, 120]))
        mat = fixed_material(wood, specular=0.12, shininess=25.0, texture="wood")
    else:
        mat = material(color, rng, specular=0.12, shininess=25.0, texture="speckle")
    legs = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            c = [sx * (width / 2 - leg), sy * (depth / 2 - leg), (height - top_t) / 2]
            legs.append(part(box(c, [leg, leg, height - top_t]), material=mat))
    top = part(box([0, 0, height - top_t / 2], [width, depth, top_t]), material=mat)
    return [top, *legs]


def build_table(rng, color: str) -> list[Part]:
    return table_parts(rng, color, _u(rng, 0.8, 1.4), _u(rng, 0.6, 0.9), _u(rng, 0.7, 0.78))


def build_chair(rng, color: str) -> list[Part]:
    w, seat_h = _u(rng, 0.4, 0.5), _u(rng, 0.42, 0.48)
    back_h, t, leg = _u(rng, 0.35, 0.45), 0.04, 0.035
    mat = material(color, rng, specular=0.1)
    parts = [part(box([0, 0, seat_h - t / 2], [w, w, t]), material=mat),
             part(box([0, w / 2 - 0.015, seat_h + back_h / 2], [w, 0.03, back_h]),
                  material=mat)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            c = [sx * (w / 2 - leg), sy * (w / 2 - leg), (seat_h - t) / 2]
            parts.append(part(box(c, [leg, leg, seat_h - t]), material=mat))
    return parts


def build_sofa(rng, color: str) -> list[Part]:
    w, d, seat_h = _u(rng, 1.5, 2.1), _u(rng, 0.8, 0.95), _u(rng, 0.38, 0.45)
    arm_w, back_t, back_h = 0.18, 0.2, _u(rng, 0.3, 0.45)
    mat = material(color, rng, specular=0.03, texture="speckle")
    return [
        part(box([0, 0, seat_h / 2], [w, d, seat_h]), material=mat),
        part(box([0, d / 2 - back_t / 2, seat_h + back_h / 2], [w, back_t, back_h]),
             material=mat),
        part(box([-(w - arm_w) / 2, -back_t / 2, seat_h + 0.1], [arm_w, d - back_t, 0.2]),
             material=mat),
        part(box([(w - arm_w) / 2, -back_t / 2, seat_h + 0.1], [arm_w, d - back_t, 0.2]),
             material=mat),
    ]


def build_cabinet(rng, color: str) -> list[Part]:
    w, d, h = _u(rng, 0.4, 0.9), _u(rng, 0.35, 0.55), _u(rng, 0.6, 1.0)
    texture = "wood" if color == "brown" else "none"
    return [
        part(box([0, 0, h / 2], [w, d, h]), material=material(color, rng, texture=texture)),
        part(box([0, -d / 2 - 0.01, h * 0.8], [0.12, 0.02, 0.02]), material=METAL,
             accent=True),
    ]


def build_trash_can(rng, color: str) -> list[Part]:
    r, h = _u(rng, 0.12, 0.17), _u(rng, 0.3, 0.45)
    return [part(cylinder([0, 0, 0], r * 0.85, h, top_radius=r),
                 minus=cylinder([0, 0, 0.01], r * 0.85 - 0.006, h + 0.05,
                                top_radius=r * (1 + 0.15 * 0.05 / h) - 0.006),
                 material=material(color, rng, specular=0.2))]


def build_floor_plant(rng, color: str) -> list[Part]:
    return build_plant(rng, color, scale=_u(rng, 2.5, 3.5))


def build_floor_lamp(rng, color: str) -> list[Part]:
    return build_lamp(rng, color, scale=_u(rng, 3.8, 4.5))
