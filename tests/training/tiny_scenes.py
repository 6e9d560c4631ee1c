"""Tiny generated tabletop scenes and a tiny network config for fast training tests.

Each scene is a table top with three objects drawn from four shape categories (a cube
shell, a cylinder, a dome, a flat plate), each shape with its own colour family, seen
by one small pinhole camera whose image is splatted from the cloud. Queries name one
object ("the mug"), several ("all the boxes") or one that is absent (zero-target), so
every split of the metrics is exercised. Deterministic by seed; a few hundred points.
"""

from __future__ import annotations

import numpy as np

from query3d.config import Config, load_config
from query3d.data.sample import CameraView, ObjectBox, Query, Sample, Scene

CATEGORIES = ("box", "mug", "bowl", "plate")
COLOURS = {"box": (0.8, 0.2, 0.2), "mug": (0.2, 0.3, 0.9), "bowl": (0.2, 0.8, 0.3),
           "plate": (0.9, 0.9, 0.2)}
PLURAL = {"box": "boxes", "mug": "mugs", "bowl": "bowls", "plate": "plates"}
IMAGE_HW = (24, 32)


def _shape(category: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points of one object around the origin (resting on z = 0) and its full size."""
    u = rng.uniform(size=(n, 2))
    if category == "box":
        p = rng.uniform(-0.04, 0.04, size=(n, 3))
        face = rng.integers(0, 3, n)
        p[np.arange(n), face] = np.sign(p[np.arange(n), face]) * 0.04
        return p + [0, 0, 0.04], np.array([0.08, 0.08, 0.08])
    if category == "mug":
        a = 2 * np.pi * u[:, 0]
        return (np.c_[0.03 * np.cos(a), 0.03 * np.sin(a), 0.1 * u[:, 1]],
                np.array([0.06, 0.06, 0.1]))
    if category == "bowl":
        a, r = 2 * np.pi * u[:, 0], 0.06 * np.sqrt(u[:, 1])
        return (np.c_[r * np.cos(a), r * np.sin(a), 0.05 * (1 - (r / 0.06) ** 2)],
                np.array([0.12, 0.12, 0.05]))
    a, r = 2 * np.pi * u[:, 0], 0.07 * np.sqrt(u[:, 1])
    return np.c_[r * np.cos(a), r * np.sin(a), 0.01 * u[:, 1]], np.array([0.14, 0.14, 0.01])


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """camera (x right, y down, z forward) -> world."""
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.c_[x, y, z]
    pose[:3, 3] = eye
    return pose


def _camera(points: np.ndarray, colors: np.ndarray) -> CameraView:
    h, w = IMAGE_HW
    K = np.array([[30.0, 0, w / 2 - 0.5], [0, 30.0, h / 2 - 0.5], [0, 0, 1]])
    pose = _look_at(np.array([0.0, -0.6, 0.5]), np.zeros(3))
    cam = (points - pose[:3, 3]) @ pose[:3, :3]
    uv = cam @ K.T
    uv = np.rint(uv[:, :2] / uv[:, 2:3]).astype(int)
    ok = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    image = np.full((h, w, 3), 90, dtype=np.uint8)
    order = np.argsort(-cam[ok, 2])  # far first, near points overwrite
    image[uv[ok][order, 1], uv[ok][order, 0]] = (colors[ok][order] * 255).astype(np.uint8)
    return CameraView(image=image, K=K, T_world_cam=pose)


def tiny_scene(seed: int, points_per_object: int = 80) -> Scene:
    rng = np.random.default_rng(seed)
    cats = list(rng.choice(CATEGORIES, size=2, replace=False))
    cats.append(cats[int(rng.integers(2))])  # a repeated category: multi-target queries
    table = np.c_[rng.uniform(-0.3, 0.3, (160, 2)), np.zeros(160)]
    pts, cols, inst, objects = [table], [np.full((160, 3), 0.5)], [np.full(160, -1)], []
    slots = rng.permutation([(-0.18, 0.12), (0.0, -0.12), (0.18, 0.12), (-0.18, -0.12)])
    for object_id, (cat, (x, y)) in enumerate(zip(cats, slots)):
        p, size = _shape(cat, rng, points_per_object)
        yaw = float(rng.uniform(-np.pi, np.pi))
        c, s = np.cos(yaw), np.sin(yaw)
        p = p @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + [x, y, 0.0]
        pts.append(p)
        cols.append(np.clip(np.array(COLOURS[cat]) + rng.normal(0, 0.05, (len(p), 3)), 0, 1))
        inst.append(np.full(len(p), object_id))
        objects.append(ObjectBox(object_id, cat, np.array([x, y, size[2] / 2]), size, yaw))
    points = np.concatenate(pts).astype(np.float32)
    colors = np.concatenate(cols).astype(np.float32)
    instance = np.concatenate(inst).astype(np.int64)
    cat_ids = np.array([CATEGORIES.index(o.category) for o in objects])
    semantic = np.where(instance >= 0, cat_ids[np.maximum(instance, 0)], -1).astype(np.int64)
    return Scene(f"tiny{seed:04d}", points, colors, instance, semantic, objects,
                 [_camera(points, colors)], list(CATEGORIES))


def scene_queries(scene: Scene) -> list[Query]:
    by_cat: dict[str, list[int]] = {}
    for obj in scene.objects:
        by_cat.setdefault(obj.category, []).append(obj.object_id)
    out = []
    for cat, ids in by_cat.items():
        if len(ids) == 1:
            out.append(Query(f"the {cat}", ids, ann_id=cat, eval_type="st"))
        else:
            out.append(Query(f"all the {PLURAL[cat]}", ids, ann_id=cat, eval_type="mt",
                             kind="multi"))
    absent = [c for c in CATEGORIES if c not in by_cat]
    out.append(Query(f"the {absent[0]}", [], ann_id="none", eval_type="zt", kind="zero"))
    return out


def tiny_samples(num_scenes: int, seed: int = 0) -> list[Sample]:
    """All queries of ``num_scenes`` scenes (three per scene: st, mt, zt)."""
    samples = []
    for i in range(num_scenes):
        scene = tiny_scene(seed * 1000 + i)
        samples.extend(Sample(scene, q) for q in scene_queries(scene))
    return samples


def tiny_config(**train: object) -> Config:
    """The smallest network that still has every block (images, DCMA, memory)."""
    model = {"dim": 16, "align_dim": 16, "heads": 2, "point_mlp_layers": 1, "knn_k": 4,
             "voxel_size": 0.03, "voxel_scales": [1, 2], "voxel_transformer_layers": 1,
             "encoder_layers": 1, "decoder_layers": 1, "num_queries": 4, "num_seeds": 16,
             "num_classes": len(CATEGORIES), "ssm_state": 4, "window_group_size": 16,
             "voxel_member_cap": 8, "image_size": [64, 64], "image_embedding_size": 8,
             "image_hidden_sizes": [8, 8, 8, 8], "memory_capacity": 8, "mask_refine_iters": 1,
             "box_size_prior": 0.08,
             # the trainer's hooks are under test here, on the point network: superpoints
             # of 80-point objects are two or three voxels (tests/model cover them)
             "use_superpoints": False, "text_matching": False}
    data = {"augment": {"enabled": False}, "max_points": 0}
    base = {"epochs": 2, "batch_size": 2, "lr": 0.003, "eval_every": 0, "log_every": 1,
            "num_workers": 0, "device": "cpu"}
    base.update(train)
    # every fired slot answers: these tests assert what training learns, and an 8-epoch
    # network's ranking of its 4 slots is not yet what "the cube" (one answer) can trust
    return load_config("small", {"model": model, "data": data, "train": base,
                                 "decision": {"limit_by_grammar": False}})
