"""Synthetic RGB-D referring benchmark (``query3d data generate | show | stats``).

Scenes are built from analytic solids (catalogue.py, shapes_*.py), laid out on a table or
in a room (layout_*.py), ray-cast by one or more Kinect-like cameras (camera.py,
render.py, shade.py, sensor.py), fused into a labelled cloud (cloud.py) and described by
checked queries (queries/). generate.py writes a split, dataset.py reads it back.

Public entry points::

    generate_split(out, split, scenes, seed=0, options=GeneratorOptions(), workers=1)
    SyntheticDataset(root, split, max_points=None, load_cameras=True)  # Samples
    generate_scene(scene_id, seed, options) -> SceneRecord              # in memory
"""

from query3d.training.data.synthetic.dataset import SyntheticDataset
from query3d.training.data.synthetic.generate import generate_split
from query3d.training.data.synthetic.scene_gen import (
    GeneratorOptions,
    SceneRecord,
    generate_scene,
)

__all__ = ["GeneratorOptions", "SceneRecord", "SyntheticDataset", "generate_scene",
           "generate_split"]
