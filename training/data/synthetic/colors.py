"""Named colours and surface materials.

Queries say "the red mug", so every object carries one colour *name*; the renderer needs
reflectance, gloss and how the Kinect's IR pattern fares on it (dark or glossy surfaces
lose depth). Both live here so the words and the pixels cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# sRGB 0-255 anchors; objects get a jittered shade around the anchor.
NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (190, 30, 35),
    "green": (45, 140, 55),
    "blue": (35, 75, 180),
    "yellow": (235, 200, 40),
    "orange": (235, 115, 25),
    "purple": (115, 50, 145),
    "pink": (235, 135, 175),
    "white": (232, 232, 226),
    "black": (28, 28, 30),
    "grey": (125, 127, 130),
    "brown": (115, 72, 40),
    "cyan": (35, 170, 190),
}
COLOR_NAMES: tuple[str, ...] = tuple(NAMED_COLORS)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)


@dataclass(frozen=True)
class Material:
    """Linear-RGB albedo plus Blinn-Phong gloss; ``texture`` picks a procedural pattern."""

    albedo: tuple[float, float, float]
    specular: float = 0.05
    shininess: float = 20.0
    texture: str = "none"  # none | wood | speckle | screen

    @property
    def luminance(self) -> float:
        r, g, b = self.albedo
        return 0.2126 * r + 0.7152 * g + 0.0722 * b


def shade_of(name: str, rng: np.random.Generator, spread: float = 0.08) -> np.ndarray:
    """A random linear-RGB shade that a person would still call ``name``."""
    if name not in NAMED_COLORS:
        raise ValueError(f"unknown colour {name!r}; known: {', '.join(COLOR_NAMES)}")
    base = np.array(NAMED_COLORS[name], dtype=np.float64) / 255.0
    jitter = 1.0 + rng.uniform(-spread, spread)  # brightness
    tint = rng.normal(0.0, spread / 4, 3)  # small hue shift
    return srgb_to_linear(np.clip(base * jitter + tint, 0.0, 1.0))


def material(
    name: str,
    rng: np.random.Generator,
    specular: float = 0.05,
    shininess: float = 20.0,
    texture: str = "none",
) -> Material:
    return Material(tuple(shade_of(name, rng)), specular, shininess, texture)


def fixed_material(rgb255: tuple[int, int, int], specular: float = 0.05,
                   shininess: float = 20.0, texture: str = "none") -> Material:
    albedo = srgb_to_linear(np.array(rgb255, dtype=np.float64) / 255.0)
    return Material(tuple(albedo), specular, shininess, texture)
