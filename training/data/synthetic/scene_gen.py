"""One synthetic scene end to end: layout -> cameras -> RGB-D frames -> cloud -> queries."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from query3d.training.data.synthetic.camera import OrthoGrid
from query3d.training.data.synthetic.catalogue import CLASS_NAMES, SEMANTIC_ID
from query3d.training.data.synthetic.cloud import fuse_views
from query3d.training.data.synthetic.layout import SceneLayout
from query3d.training.data.synthetic.layout_room import room_layout
from query3d.training.data.synthetic.layout_tabletop import tabletop_layout
from query3d.training.data.synthetic.queries.facts import facts_from_objects
from query3d.training.data.synthetic.queries.sampler import sample_queries
from query3d.training.data.synthetic.render import cast
from query3d.training.data.synthetic.sensor import KinectModel
from query3d.training.data.synthetic.shade import random_lighting
from query3d.training.data.synthetic.views import RenderedView, place_cameras, render_view

KINDS = ("tabletop", "room")
DEFAULT_VOXEL = {"tabletop": 0.005, "room": 0.02}


@dataclass(frozen=True)
class GeneratorOptions:
    """``cameras=0`` draws 1-3 cameras per scene; ``voxel=None`` picks a per-kind size."""

    kind: str = "tabletop"
    cameras: int = 0
    width: int = 640
    height: int = 480
    voxel: float | None = None
    max_points: int = 60000
    queries_per_scene: int = 10
    kinect: KinectModel = field(default_factory=KinectModel)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.cameras <= 3:
            raise ValueError(f"cameras must be 0 (random 1-3) or 1-3, got {self.cameras}")
        if self.max_points < 100:
            raise ValueError(f"max_points must be at least 100, got {self.max_points}")
        if self.queries_per_scene < 0:
            raise ValueError("queries_per_scene must be >= 0")

    @property
    def voxel_size(self) -> float:
        return DEFAULT_VOXEL[self.kind] if self.voxel is None else self.voxel


@dataclass
class SceneRecord:
    scene_id: str
    kind: str
    views: list[RenderedView]
    cloud: dict[str, np.ndarray]
    objects: list[dict]
    queries: list[dict]
    crop: tuple[list[float], list[float]] = ([], [])  # the cloud's crop box (lo, hi)
    class_names: tuple[str, ...] = CLASS_NAMES


def object_records(layout: SceneLayout, instance: np.ndarray) -> list[dict]:
    """objects.json rows: box, words, scene graph and how many cloud points show it."""
    counts = np.bincount(instance[instance >= 0], minlength=len(layout.objects))
    rows = []
    for obj in layout.objects:
        box = obj.box()
        rows.append({
            "object_id": obj.object_id, "category": obj.category, "color": obj.model.color,
            "center": [round(float(v), 5) for v in box.center],
            "size": [round(float(v), 5) for v in box.size],
            "yaw": round(float(box.yaw), 5),
            "support": obj.support, "leaning_on": obj.leaning_on,
            "num_points": int(counts[obj.object_id]) if obj.object_id < len(counts) else 0,
            # The table under a tabletop scene is context, never a query target or anchor.
            "queryable": not (layout.kind == "tabletop" and obj.category == "table"),
        })
    return rows


def generate_scene(scene_id: str, seed: np.random.SeedSequence | int,
                   options: GeneratorOptions = GeneratorOptions()) -> SceneRecord:
    rng = np.random.default_rng(seed)
    layout = tabletop_layout(rng) if options.kind == "tabletop" else room_layout(rng)
    count = options.cameras or int(rng.integers(1, 4))
    cameras = place_cameras(layout, rng, count, options.width, options.height)
    lighting = random_lighting(rng)
    items = layout.render_items()
    shadow_grid = OrthoGrid(lighting.key_dir, layout.focus, layout.extent + 0.4,
                            size=384 if options.kind == "tabletop" else 512)
    # Walls cast no shadows (there is no ceiling for them to block light from).
    shadow_hits = cast(shadow_grid, [it for it in items if it.semantic != SEMANTIC_ID["wall"]],
                       with_normals=False)
    views = [render_view(cam, items, lighting, shadow_grid, shadow_hits, rng, options.kinect)
             for cam in cameras]
    cloud = fuse_views(views, layout.crop_lo, layout.crop_hi, options.voxel_size,
                       options.max_points, rng)
    objects = object_records(layout, cloud["instance"])
    facts = facts_from_objects(objects, cameras[0].position, options.kind)
    queries = sample_queries(facts, rng, scene_id, options.queries_per_scene)
    crop = ([round(float(v), 5) for v in layout.crop_lo],
            [round(float(v), 5) for v in layout.crop_hi])
    return SceneRecord(scene_id, options.kind, views, cloud, objects, queries, crop)
