"""A picture of one generated scene: camera images, depth, labelled cloud and queries.

Top views are drawn as the robot sees the table: forward (+x) is up, the robot's left
(+y) is left, so "the mug left of the laptop" can be checked by eye.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from query3d.training.data.synthetic.dataset import SyntheticDataset  # noqa: E402
from query3d.training.data.synthetic.layout import footprint  # noqa: E402


def find_split(root: str | Path, scene_id: str) -> str:
    hits = sorted(p.parent.parent.name for p in Path(root).glob(f"*/scenes/{scene_id}"))
    if not hits:
        raise FileNotFoundError(f"{root}: no scene {scene_id!r} in any split")
    return hits[0]


def _instance_colors(instance: np.ndarray, grey_ids: list[int]) -> np.ndarray:
    """tab20 colour per instance; background and supporting furniture light grey."""
    palette = np.array(plt.get_cmap("tab20").colors)
    colors = palette[np.maximum(instance, 0) % 20]
    colors[(instance < 0) | np.isin(instance, grey_ids)] = (0.8, 0.8, 0.8)
    return colors


def _top(ax, points, colors, size):
    order = np.argsort(points[:, 2], kind="stable")  # higher points drawn on top
    ax.scatter(-points[order, 1], points[order, 0], c=colors[order], s=size[order],
               linewidths=0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def show_scene(root: str | Path, scene_id: str, out: str | Path, max_queries: int = 12,
               max_points: int = 25000) -> Path:
    split = find_split(root, scene_id)
    ds = SyntheticDataset(root, split, max_points=max_points)
    scene = ds.scene(scene_id)
    queries = ds.queries(scene_id)[:max_queries]
    n_cams = len(scene.cameras)
    n_qrows = int(np.ceil(len(queries) / 4))
    fig = plt.figure(figsize=(16, 4.2 * (2 + n_qrows)))
    grid = fig.add_gridspec(2 + n_qrows, 4)
    for k, cam in enumerate(scene.cameras[:3]):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(cam.image)
        ax.set_title(f"{cam.name} RGB")
        ax.axis("off")
    ax = fig.add_subplot(grid[0, min(n_cams, 3)])
    ax.imshow(scene.cameras[0].depth, cmap="turbo")
    ax.set_title("cam0 depth (white = missing)")
    ax.axis("off")
    support = [o.object_id for o in scene.objects if o.category == "table"] \
        if ds.meta["kind"] == "tabletop" else []
    is_object = (scene.instance >= 0) & ~np.isin(scene.instance, support)
    size = np.where(is_object, 1.5, 0.4)
    ax = fig.add_subplot(grid[1, 0:2])
    _top(ax, scene.points, _instance_colors(scene.instance, support), size)
    for obj in scene.objects:
        if obj.object_id in support:
            continue
        fp = footprint(obj)
        ax.plot(-np.append(fp[:, 1], fp[0, 1]), np.append(fp[:, 0], fp[0, 0]), "k-", lw=0.6)
        ax.text(-obj.center[1], obj.center[0], f"{obj.object_id}:{obj.color} {obj.category}",
                fontsize=7, ha="center")
    ax.set_title(f"{scene_id}: cloud by instance, top view ({len(scene.points)} pts)")
    ax = fig.add_subplot(grid[1, 2:4])
    oblique, order = _oblique(scene.points)
    ax.scatter(oblique[order, 0], oblique[order, 1], c=scene.colors[order], s=0.8,
               linewidths=0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("cloud RGB, oblique view from the robot")
    # Query panels draw a thinned cloud (all object points, a sixth of the rest).
    thin = is_object | (np.arange(len(scene.points)) % 6 == 0)
    pts, inst, obj = scene.points[thin], scene.instance[thin], is_object[thin]
    for q_i, q in enumerate(queries):
        ax = fig.add_subplot(grid[2 + q_i // 4, q_i % 4])
        target = np.isin(inst, q["object_ids"])
        colors = np.where(target[:, None], [0.9, 0.1, 0.1],
                          np.where(obj[:, None], [0.55, 0.55, 0.6], [0.85, 0.85, 0.85]))
        _top(ax, pts, colors, np.where(target, 2.5, np.where(obj, 1.2, 1.0)))
        ids = ", ".join(map(str, q["object_ids"])) or "none"
        text = "\n".join(textwrap.wrap(f'"{q["description"]}"', 44))
        ax.set_title(f"{text}\n{q['eval_type']} · {q['kind']} · targets: {ids}", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    plt.close(fig)
    return out


def _oblique(points: np.ndarray, elevation: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Projection as seen from behind the robot looking forward and down, and the
    far-to-near drawing order that lets near points cover far ones."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    xy = np.stack([-y, z * np.cos(elevation) + x * np.sin(elevation)], axis=1)
    depth = x * np.cos(elevation) - z * np.sin(elevation)
    return xy, np.argsort(-depth, kind="stable")
