"""Pictures of results: the scene with target masks and oriented boxes, for
``query3d segment``, ``query3d demo`` and evaluation reports.

One palette serves every picture and the ROS markers, so a target has the same colour
in RViz and in the PNGs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from query3d.model.output import QueryResult

# Tab10-like, distinguishable on dark and light backgrounds; index = target id.
PALETTE = np.array([
    [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180],
    [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128],
], dtype=np.uint8)


def colors_for_ids(ids: np.ndarray) -> np.ndarray:
    """(N,) int ids -> (N, 3) uint8 colours, stable per id; negative ids are grey."""
    ids = np.asarray(ids, dtype=np.int64)
    out = PALETTE[np.mod(ids, len(PALETTE))]
    out[ids < 0] = (128, 128, 128)
    return out


def box_corners(center: np.ndarray, size: np.ndarray, yaw: float) -> np.ndarray:
    """(8, 3) corners of an oriented box; first four at the bottom, counter-clockwise."""
    dx, dy, dz = np.asarray(size, dtype=np.float64) / 2.0
    local = np.array([[-dx, -dy, -dz], [dx, -dy, -dz], [dx, dy, -dz], [-dx, dy, -dz],
                      [-dx, -dy, dz], [dx, -dy, dz], [dx, dy, dz], [-dx, dy, dz]])
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ rot.T + np.asarray(center, dtype=np.float64)


_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
          (0, 4), (1, 5), (2, 6), (3, 7)]


def render_result(points: np.ndarray, colors: np.ndarray | None, result: QueryResult,
                  path: str | Path, title: str | None = None, max_points: int = 40000,
                  seed: int = 0) -> Path:
    """Write a PNG: top view and oblique view, targets coloured, boxes outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    side.view_init(elev=35, azim=-60)
    side.set_title("oblique view")
    for t in result.targets:
        color = colors_for_ids(np.array([t.target_id]))[0] / 255.0
        corners = box_corners(t.box_center, t.box_size, t.box_yaw)
        ring = corners[[0, 1, 2, 3, 0]]
        top.plot(ring[:, 0], ring[:, 1], color=color, linewidth=1.6)
        top.annotate(f"{t.target_id}: {t.label} {t.score:.2f}", corners[2, :2], color=color,
                     fontsize=8, fontweight="bold")
        for a, b in _EDGES:
            side.plot(*zip(corners[a], corners[b], strict=True), color=color, linewidth=1.2)
    summary = "no target" if result.no_target else f"{len(result.targets)} target(s)"
    fig.suptitle(f"{title or result.text!r} -> {summary}", fontsize=12)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
