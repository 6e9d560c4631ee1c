"""Tiny generated data for end-to-end CLI tests (imported by test modules: pytest puts
this folder on the path when it loads ``conftest.py``)."""

from __future__ import annotations

from pathlib import Path

from query3d.training.data.synthetic.generate import generate_split
from query3d.training.data.synthetic.scene_gen import GeneratorOptions


def tiny_tabletop(root: Path, scenes: dict[str, tuple[int, int]], max_points: int = 2500,
                  queries_per_scene: int = 1) -> Path:
    """A few small synthetic scenes per split (``{split: (scenes, seed)}``, 96x72 camera)
    under ``root``: data for tests that must run in seconds."""
    options = GeneratorOptions(cameras=1, width=96, height=72, max_points=max_points,
                               queries_per_scene=queries_per_scene)
    for split, (count, seed) in scenes.items():
        generate_split(root, split, count, seed=seed, options=options, progress=False)
    return root
