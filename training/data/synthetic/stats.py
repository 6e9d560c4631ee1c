"""Realism check: the same statistics on synthetic RGB-D views and real Kinect scans.

Both sides become organized camera-frame clouds (H x W, NaN = no return) with table and
object labels. The synthetic views are cropped to the table region the way mOSD scans
were cropped, so invalid-pixel shares compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.colors import rgb_to_hsv
from scipy import ndimage
from scipy.spatial import cKDTree

from query3d.data.readers.scene_folder import read_depth, read_json, read_png
from query3d.training.data.synthetic.cloud import backproject

DISTANCE_BINS = (0.5, 0.8, 1.0, 1.2, 1.6)
BLOCK = 16  # pixels per side of the patches used for local plane fits


@dataclass
class OrganizedView:
    name: str
    points: np.ndarray  # (H, W, 3) camera optical frame, NaN where invalid
    rgb: np.ndarray  # (H, W, 3) uint8
    table: np.ndarray  # (H, W) bool
    objects: np.ndarray  # (H, W) int, -1 where not an object


def osd_views(root: str | Path, limit: int | None = None) -> list[OrganizedView]:
    from query3d.training.data.readers.osd import read_osd

    files = sorted(Path(root).glob("*.pcd"))[:limit]
    if not files:
        raise FileNotFoundError(f"{root}: no .pcd scans found")
    views = []
    for f in files:
        cf = read_osd(f, keep_nan=True)
        shape = (cf.height, cf.width)
        grid = np.full((cf.height * cf.width, 3), np.nan, dtype=np.float64)
        rgb = np.zeros((cf.height * cf.width, 3), dtype=np.uint8)
        grid[cf.index] = cf.scene.points
        rgb[cf.index] = np.round(cf.scene.colors * 255).astype(np.uint8)
        table = np.zeros(cf.height * cf.width, bool)
        table[cf.index] = cf.scene.semantic == 0
        objects = np.full(cf.height * cf.width, -1)
        objects[cf.index] = np.where(cf.scene.semantic == 1, cf.scene.instance, -1)
        views.append(OrganizedView(f.stem, grid.reshape(*shape, 3), rgb.reshape(*shape, 3),
                                   table.reshape(shape), objects.reshape(shape)))
    return views


def synthetic_views(root: str | Path, limit: int | None = 16,
                    first_camera_only: bool = True) -> list[OrganizedView]:
    """Views of generated tabletop scenes (all splits under a dataset ``root``, or one split
    folder), OSD-style cropped."""
    scene_dirs = sorted(p.parent for pattern in ("*/scenes/*/scene.json", "scenes/*/scene.json")
                        for p in Path(root).glob(pattern))
    scene_dirs = [d for d in scene_dirs if read_json(d / "scene.json")["kind"] == "tabletop"]
    if not scene_dirs:
        raise FileNotFoundError(f"{root}: no generated tabletop scenes found (expected "
                                "SPLIT/scenes/*/scene.json or scenes/*/scene.json)")
    views = []
    for d in scene_dirs[:limit]:
        meta = read_json(d / "scene.json")
        lo, hi = np.asarray(meta["crop_lo"]), np.asarray(meta["crop_hi"])
        objects = read_json(d / "objects.json")
        tables = [o["object_id"] for o in objects if o["category"] == "table"]
        cameras = read_json(d / "cameras.json")
        for cam in cameras[: 1 if first_camera_only else None]:
            depth = read_depth(d / cam["depth"])
            K, T = np.asarray(cam["K"]), np.asarray(cam["T_world_cam"])
            world = backproject(depth, K, T)
            inside = np.all((world >= lo) & (world <= hi), axis=-1)
            cam_pts = backproject(depth, K, np.eye(4))
            cam_pts[~inside] = np.nan
            inst = read_png(d / cam["instance"]).astype(np.int64) - 1
            table = np.isin(inst, tables)
            obj = np.where((inst >= 0) & ~table, inst, -1)
            views.append(OrganizedView(f"{d.name}/{cam['name']}", cam_pts,
                                       read_png(d / cam["rgb"]), table, obj))
    return views


def _plane_residuals(points: np.ndarray) -> np.ndarray:
    """Distances to the least-squares plane, refit once without 3-sigma outliers."""
    keep = np.ones(len(points), bool)
    for _ in range(2):
        c = points[keep].mean(axis=0)
        normal = np.linalg.svd(points[keep] - c, full_matrices=False)[2][2]
        res = (points - c) @ normal
        keep = np.abs(res) < 3 * max(res[keep].std(), 1e-6)
    return res[keep]


def _block_noise(points: np.ndarray, table: np.ndarray) -> list[tuple[float, float]]:
    """(depth, residual std) of small table patches: sensor noise without the low-
    frequency bending of a whole real table or of the Kinect's depth distortion."""
    h, w = table.shape
    out = []
    for v in range(0, h - BLOCK + 1, BLOCK):
        for u in range(0, w - BLOCK + 1, BLOCK):
            sel = table[v:v + BLOCK, u:u + BLOCK]
            pts = points[v:v + BLOCK, u:u + BLOCK][sel]
            pts = pts[np.isfinite(pts).all(axis=1)]
            if len(pts) >= 0.6 * BLOCK * BLOCK:
                out.append((float(np.median(pts[:, 2])), float(_plane_residuals(pts).std())))
    return out


def _depth_step(z: np.ndarray, centre: float = 1.0, half: float = 0.05) -> float:
    """Typical gap between distinct depth values near ``centre`` (quantisation)."""
    zs = np.unique(np.round(z[(z > centre - half) & (z < centre + half)], 5))
    return float(np.median(np.diff(zs))) if len(zs) > 3 else float("nan")


def view_metrics(view: OrganizedView) -> dict:
    valid = np.isfinite(view.points).all(axis=-1)
    region = ndimage.binary_fill_holes(ndimage.binary_closing(valid, np.ones((9, 9)),
                                                              iterations=2))
    m = {"nan_share": float(1 - valid.mean()),
         "hole_share_in_region": float((~valid & region).sum() / max(region.sum(), 1))}
    pts = view.points[valid]
    m["depth_step_1m_mm"] = _depth_step(pts[:, 2]) * 1000
    obj_counts, spacing, dist = [], [], []
    for oid in np.unique(view.objects[valid & (view.objects >= 0)]):
        op = view.points[valid & (view.objects == oid)]
        obj_counts.append(len(op))
        if len(op) >= 20:
            nn = cKDTree(op).query(op, k=2)[0][:, 1]
            z = float(np.median(op[:, 2]))
            spacing.append(float(np.median(nn)) / z)
            dist.append(z)
    m["object_points"] = float(np.median(obj_counts)) if obj_counts else float("nan")
    m["object_distance_m"] = float(np.median(dist)) if dist else float("nan")
    m["object_spacing_mm_at_1m"] = float(np.median(spacing)) * 1000 if spacing else np.nan
    tp = view.points[valid & view.table]
    m["table_plane_residual_mm"] = float(_plane_residuals(tp).std() * 1000) if len(tp) > 100 \
        else float("nan")
    m["_blocks"] = _block_noise(view.points, view.table & valid)
    rgb = view.rgb[valid & region].astype(np.float64) / 255.0
    hsv = rgb_to_hsv(rgb)
    for i, ch in enumerate("rgb"):
        m[f"color_mean_{ch}"] = float(rgb[:, i].mean() * 255)
        m[f"color_std_{ch}"] = float(rgb[:, i].std() * 255)
    m["saturation_mean"] = float(hsv[:, 1].mean())
    m["value_mean"] = float(hsv[:, 2].mean())
    # Split colour spread into the sensor's share (one uniform table surface) and the
    # content's share (how much of the view objects cover).
    table_rgb = view.rgb[valid & view.table].astype(np.float64)
    m["table_color_std"] = float(table_rgb.std(axis=0).mean()) if len(table_rgb) else np.nan
    n_obj = int(np.sum(valid & (view.objects >= 0)))
    m["object_pixel_share"] = n_obj / max(n_obj + len(table_rgb), 1)
    return m


def summarise(views: list[OrganizedView]) -> dict:
    per_view = [view_metrics(v) for v in views]
    keys = [k for k in per_view[0] if not k.startswith("_")]
    out = {k: float(np.nanmean([p[k] for p in per_view])) for k in keys}
    blocks = np.array([b for p in per_view for b in p["_blocks"]]).reshape(-1, 2)
    for lo, hi in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:]):
        sel = (blocks[:, 0] >= lo) & (blocks[:, 0] < hi)
        out[f"table_noise_mm_{lo:.1f}-{hi:.1f}m"] = (
            float(np.median(blocks[sel, 1]) * 1000) if sel.sum() >= 3 else float("nan"))
    out["views"] = len(views)
    return out


def compare(synthetic: str | Path, real: str | Path, limit: int | None = 16) -> dict:
    syn, rea = summarise(synthetic_views(synthetic, limit)), summarise(osd_views(real, limit))
    return {k: {"synthetic": syn[k], "real": rea[k]} for k in syn}


def format_table(result: dict) -> str:
    lines = [f"{'metric':34s} {'synthetic':>10s} {'real':>10s} {'syn/real':>9s}"]
    for k, v in result.items():
        s, r = v["synthetic"], v["real"]
        ratio = s / r if r and np.isfinite(r) and np.isfinite(s) else float("nan")
        lines.append(f"{k:34s} {s:10.3f} {r:10.3f} {ratio:9.2f}")
    return "\n".join(lines)
