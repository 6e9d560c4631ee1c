"""Pictures of results: the scene with target masks and oriented boxes, for
``query3d segment``, ``query3d demo`` and evaluation reports.

One palette serves every picture and the ROS markers, so a target has the same colour
in RViz and in the PNGs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from query3d.model.output import QueryResult, SemanticResult

# fmt: off
# tab10 then tab20's light shades: neighbouring ids get strongly different colours
PALETTE = np.array(
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
        (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
        (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
    ],
    dtype=np.uint8,
)
BACKGROUND_COLOR = np.array((0, 0, 0), dtype=np.uint8)  # ids < 0
# corner i has bit 0 -> +x, bit 1 -> +y, bit 2 -> +z (half sizes), see box_corners
BOX_EDGES = ((0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7),
             (0, 4), (1, 5), (2, 6), (3, 7))
# fmt: on


def colors_for_ids(ids, background: np.ndarray = BACKGROUND_COLOR) -> np.ndarray:
    """(N,3) uint8 colour per id from the fixed palette; ids < 0 get ``background``."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    out = PALETTE[np.mod(ids, len(PALETTE))]
    out[ids < 0] = background
    return out


def box_corners(center, size, yaw: float) -> np.ndarray:
    """(8,3) corners of a z-yawed box; corner i's bits select +x, +y, +z half-sizes."""
    bits = (np.arange(8)[:, None] >> np.arange(3)) & 1
    local = (bits - 0.5) * np.asarray(size, dtype=np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ rot.T + np.asarray(center, dtype=np.float64)


def render_result(points: np.ndarray, colors: np.ndarray | None, result: QueryResult,
                  path: str | Path, title: str | None = None, max_points: int = 40000,
                  seed: int = 0) -> Path:
    """Write a PNG: top view and oblique view, targets coloured, boxes outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    points = np.asarray(points, dtype=np.float64)
    ids = result.instance_mask()
    base = (np.full((len(points), 3), 0.6) if colors is None
            else np.clip(np.asarray(colors, dtype=np.float64), 0.0, 1.0))
    rgb = base * 0.55 + 0.2  # dim the scene so targets stand out
    hit = ids >= 0
    rgb[hit] = colors_for_ids(ids[hit]) / 255.0
    order = np.random.default_rng(seed).permutation(len(points))[:max_points]
    order = np.concatenate([order[~hit[order]], order[hit[order]]])  # targets drawn last

    fig = plt.figure(figsize=(12, 5.5), dpi=110)
    top = fig.add_subplot(1, 2, 1)
    top.scatter(points[order, 0], points[order, 1], c=rgb[order], s=1.0, linewidths=0)
    top.set_aspect("equal")
    top.set_xlabel("x [m]")
    top.set_ylabel("y [m]")
    top.set_title("top view")
    side = fig.add_subplot(1, 2, 2, projection="3d")
    side.scatter(points[order, 0], points[order, 1], points[order, 2], c=rgb[order], s=0.6,
                 linewidths=0, depthshade=False)
    side.set_box_aspect(np.maximum(np.ptp(points[order], axis=0), 1e-3))  # metric, not stretched
    side.view_init(elev=35, azim=-60)
    side.zaxis.set_major_locator(MaxNLocator(3))  # a flat scene's short z axis: few ticks
    side.set_title("oblique view")
    for t in result.targets:
        color = colors_for_ids(np.array([t.target_id]))[0] / 255.0
        corners = box_corners(t.box_center, t.box_size, t.box_yaw)
        ring = corners[[0, 1, 3, 2, 0]]
        top.plot(ring[:, 0], ring[:, 1], color=color, linewidth=1.6)
        top.annotate(f"{t.target_id}: {t.label} {t.score:.2f}", corners[3, :2], color=color,
                     fontsize=8, fontweight="bold")
        for a, b in BOX_EDGES:
            side.plot(*zip(corners[a], corners[b], strict=True), color=color, linewidth=1.2)
    summary = "no target" if result.no_target else f"{len(result.targets)} target(s)"
    fig.suptitle(f"{title or result.text!r} -> {summary}", fontsize=12)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def render_semantic(points: np.ndarray, result: SemanticResult, path: str | Path,
                    title: str | None = None, max_points: int = 40000, seed: int = 0) -> Path:
    """Write a PNG: top and oblique views coloured by class, with a legend of the class
    list and each class's share of the points (a class with no points is listed too: the
    answer "there is none" is part of the result)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    points = np.asarray(points, dtype=np.float64)
    finite = np.isfinite(points).all(axis=1) & (result.labels >= 0)
    order = np.random.default_rng(seed).permutation(np.flatnonzero(finite))[:max_points]
    rgb = colors_for_ids(result.labels[order]) / 255.0
    fig = plt.figure(figsize=(13, 5.5), dpi=110)
    top = fig.add_subplot(1, 2, 1)
    top.scatter(points[order, 0], points[order, 1], c=rgb, s=1.0, linewidths=0)
    top.set_aspect("equal")
    top.set_xlabel("x [m]")
    top.set_ylabel("y [m]")
    top.set_title("top view")
    side = fig.add_subplot(1, 2, 2, projection="3d")
    side.scatter(points[order, 0], points[order, 1], points[order, 2], c=rgb, s=0.6,
                 linewidths=0, depthshade=False)
    if len(order):
        side.set_box_aspect(np.maximum(np.ptp(points[order], axis=0), 1e-3))
    side.view_init(elev=35, azim=-60)
    side.zaxis.set_major_locator(MaxNLocator(3))  # a flat scene's short z axis: few ticks
    side.set_title("oblique view")
    counts = result.points_per_class()
    total = max(1, sum(counts.values()))
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7,
                      color=colors_for_ids(np.array([i]))[0] / 255.0,
                      label=f"{name}: {100 * counts[name] / total:.1f}%")
               for i, name in enumerate(result.classes)]
    fig.legend(handles=handles, loc="center right", fontsize=9, title="classes")
    fig.suptitle(title or "classes: " + ", ".join(result.classes), fontsize=12)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
