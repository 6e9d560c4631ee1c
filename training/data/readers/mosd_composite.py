"""New real scans made of the mOSD train scans: objects of one scan set down on another
scan's table (copy-paste augmentation), with the sampler's queries on the result.

Parts trained on stored evidence (the slot scorer) memorise the 34 real train scans: out
of fold, on a scan they never saw, they are much less sure (checkpoints/README.md, step
7), and more written queries on the same scans stopped helping. What they lack is more
scans. A composite is still every point a Kinect measured, with its real colour and
noise: an object keeps its partial view because it is moved by a rotation about the
vertical axis through the camera (the levelled frame's origin lies below it), which keeps
its range, its height on the table and the side the camera sees. The result is seen
through the base scan's camera: a point hidden behind a nearer one (within a pixel) is
dropped, and the image and depth map are redrawn where pasted points are seen.

A scene's name lists the scans it was made of (``learn3+learn7+learn12~4``,
:func:`source_scans`), so a cross-validation fold that holds out a scan also holds out
every composite made with it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from query3d.data.readers.common import boxes_from_instances
from query3d.data.sample import CameraView, Query, Sample, Scene
from query3d.model.preprocess.cameras import project_points_to_image
from query3d.model.runtime.density import network_subset
from query3d.training.data.augment import take_points
from query3d.training.data.readers.mosd_generated import _support, scan_facts
from query3d.training.data.readers.osd import OSD_CLASSES, read_osd
from query3d.training.data.readers.osd_refer import MOSD_OBJECTS, MOSD_QUERIES
from query3d.training.data.synthetic.catalogue import is_query_category
from query3d.training.data.synthetic.queries.sampler import sample_queries

CELL = 0.01  # m: the table grid a pasted footprint is checked on
CLEARANCE = 0.02  # m kept free around the objects already there
ON_TABLE = 0.03  # m: an object whose lowest point is higher does not stand on the table
MIN_POINTS = 300  # objects with fewer points (mostly hidden) are not pasted
DEPTH_TOLERANCE = 0.02  # m: a point farther than a nearer one's depth by this is hidden
TABLE = OSD_CLASSES.index("table")


def source_scans(scene_name: str) -> set[str]:
    """The scans a scene was made of: itself for a plain scan, every part of a
    composite's name (``a+b+c~n``)."""
    return set(scene_name.split("~")[0].split("+"))


@dataclasses.dataclass(frozen=True)
class Piece:
    """One object of a train scan, as it can be set down elsewhere."""

    scan: str
    object_id: int
    points: np.ndarray  # (M, 3) levelled frame of its scan
    colors: np.ndarray  # (M, 3)
    category: str
    colour: str


def pieces_of(scan: str, scene: Scene, objects: dict[str, dict]) -> list[Piece]:
    """The objects of ``scan`` that stand on the table alone (nothing on them, on
    nothing), are named with a query category and are seen well enough."""
    out = []
    for box in scene.objects:
        info = objects.get(str(box.object_id))
        if info is None or not is_query_category(info["category"]):
            continue
        inside = scene.instance == box.object_id
        on_table = box.center[2] - box.size[2] / 2 < ON_TABLE
        carries = any(_support(other, [box]) == box.object_id for other in scene.objects)
        if inside.sum() < MIN_POINTS or not on_table or carries:
            continue
        out.append(Piece(scan, box.object_id, scene.points[inside], scene.colors[inside],
                         info["category"], info["colour"]))
    return out


def _rotate_z(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return (points.astype(np.float64) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
            ).astype(np.float32)


class _Grid:
    """Cells of the table plane: which hold table points, which are taken."""

    def __init__(self, scene: Scene) -> None:
        table = scene.points[scene.semantic == TABLE][:, :2]
        self.lo = table.min(0) - CELL
        shape = np.ceil((table.max(0) + CELL - self.lo) / CELL).astype(int) + 1
        self.table = np.zeros(shape, bool)
        self.table[tuple(self.cells(table).T)] = True
        self.table = ndimage.binary_closing(self.table, iterations=2)  # sensor gaps
        self.taken = np.zeros(shape, bool)
        self.take(scene.points[scene.instance >= 0])

    def cells(self, xy: np.ndarray) -> np.ndarray:
        return np.floor((xy[:, :2] - self.lo) / CELL).astype(int)

    def free(self, points: np.ndarray) -> bool:
        cells = self.cells(points)
        if (cells < 0).any() or (cells >= self.table.shape).any():
            return False
        cells = tuple(cells.T)
        return bool(self.table[cells].all() and not self.taken[cells].any())

    def take(self, points: np.ndarray) -> None:
        mark = np.zeros_like(self.taken)
        cells = self.cells(points)
        ok = ((cells >= 0) & (cells < mark.shape)).all(1)
        mark[tuple(cells[ok].T)] = True
        self.taken |= ndimage.binary_dilation(mark, iterations=round(CLEARANCE / CELL))


def _pixels(points: np.ndarray, camera: CameraView
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 2) integer pixel (row, column), (N,) depth and (N,) in-view flag of world
    points in ``camera`` (the 2D branch's own projection)."""
    uv, z, in_view = project_points_to_image(points, camera.K, camera.T_world_cam,
                                             camera.image.shape[:2])
    rc = np.rint(uv.numpy()[:, ::-1]).astype(int)
    return np.where(in_view.numpy()[:, None], rc, 0), z.numpy(), in_view.numpy()


def _depth_image(rc: np.ndarray, z: np.ndarray, shape: tuple[int, int],
                 spread: int = 0) -> np.ndarray:
    """Nearest depth per pixel (inf where nothing), grown by ``spread`` pixels."""
    depth = np.full(shape, np.inf)
    np.minimum.at(depth, (rc[:, 0], rc[:, 1]), z)
    return ndimage.minimum_filter(depth, size=2 * spread + 1) if spread else depth


def composite(base: Scene, pieces: Sequence[Piece], rng: np.random.Generator,
              tries: int = 60) -> tuple[Scene, dict[int, Piece]]:
    """``base`` with as many of ``pieces`` as fit set down on its table (each at a random
    turn about the camera's vertical axis where its footprint lies on free table and it
    stays in view), seen through the base's camera. Returns the scene and the pieces
    placed by the instance id they got (after the base's)."""
    camera = base.cameras[0]
    shape = camera.image.shape[:2]
    grid = _Grid(base)
    groups = [base.points]
    placed: dict[int, Piece] = {}
    next_id = int(base.instance.max()) + 1
    for piece in pieces:
        for _ in range(tries):
            moved = _rotate_z(piece.points, rng.uniform(-np.pi, np.pi))
            if _pixels(moved, camera)[2].all() and grid.free(moved):
                grid.take(moved)
                groups.append(moved)
                placed[next_id + len(placed)] = piece
                break
    instance = [base.instance] + [np.full(len(g), i, np.int64)
                                  for g, i in zip(groups[1:], placed)]
    semantic = [base.semantic] + [np.full(len(g), OSD_CLASSES.index("object"), np.int64)
                                  for g in groups[1:]]
    colors = [base.colors] + [p.colors for p in placed.values()]
    # what the base camera sees: a point loses to a nearer point of another group within
    # a pixel (the grown depth image), never to its own group (its own surface)
    pixels = [_pixels(g, camera) for g in groups]
    depths = [_depth_image(rc[ok], z[ok], shape, spread=1) for rc, z, ok in pixels]
    keep = []
    for g, (rc, z, ok) in enumerate(pixels):
        visible = ok.copy()
        for h, depth in enumerate(depths):
            if h != g:
                visible[ok] &= depth[rc[ok, 0], rc[ok, 1]] >= z[ok] - DEPTH_TOLERANCE
        keep.append(visible if g else visible | ~ok)  # base points out of view stay
    seen = [(rc[k & ok], z[k & ok]) for (rc, z, ok), k in zip(pixels, keep)]
    points = np.concatenate([g[k] for g, k in zip(groups, keep)])
    instance = np.concatenate([i[k] for i, k in zip(instance, keep)])
    semantic = np.concatenate([s[k] for s, k in zip(semantic, keep)])
    scene = Scene(
        scene_id="+".join([base.scene_id] + [p.scan for p in placed.values()]),
        points=points,
        colors=np.concatenate([c[k] for c, k in zip(colors, keep)]),
        instance=instance,
        semantic=semantic,
        class_names=list(base.class_names),
        cameras=[_redrawn(camera, [(rc, c[k & ok]) for (rc, _), (_, _, ok), k, c in
                                   zip(seen[1:], pixels[1:], keep[1:], colors[1:])],
                          seen)])
    ids, first = np.unique(instance, return_index=True)
    names = {int(i): OSD_CLASSES[int(semantic[f])] for i, f in zip(ids, first) if i >= 0}
    scene.objects = boxes_from_instances(scene.points, scene.instance, names)
    return scene, placed


def _redrawn(camera: CameraView, pasted: list[tuple[np.ndarray, np.ndarray]],
             seen: list[tuple[np.ndarray, np.ndarray]]) -> CameraView:
    """The base view with the pasted points (pixel, colour) drawn in, and a depth map of
    every group's kept points in view (pixel, depth)."""
    image = camera.image.copy()
    height, width = image.shape[:2]
    for rc, colors in pasted:  # 3x3 each: a point moved off-centre covers more pixels
        rgb = np.clip(np.rint(colors * 255), 0, 255).astype(np.uint8)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                image[np.clip(rc[:, 0] + dr, 0, height - 1),
                      np.clip(rc[:, 1] + dc, 0, width - 1)] = rgb
        image[rc[:, 0], rc[:, 1]] = rgb  # a point's own pixel over its neighbours' splats
    depth = _depth_image(np.concatenate([rc for rc, _ in seen]),
                         np.concatenate([z for _, z in seen]), (height, width))
    depth = np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)
    return dataclasses.replace(camera, image=image, depth=depth)


class CompositeDataset(Sequence[Sample]):
    """``scenes`` composites of the ``split`` scans under ``root`` (each: one base scan
    and 1-3 objects of other scans of the split), ``per_scene`` sampled queries on each.
    Deterministic by ``seed``; a scene is rebuilt when asked for (cheap), so the split
    holds only its queries and the scans it was made of."""

    def __init__(self, root: str | Path, split: str, scenes: int = 150, per_scene: int = 30,
                 seed: int = 0, max_points: int = 0, written: str | Path = MOSD_QUERIES,
                 objects: str | Path = MOSD_OBJECTS) -> None:
        self.root, self.max_points, self.seed = Path(root), max_points, seed
        records = json.loads(Path(written).read_text())
        scans = sorted({r["scan"] for r in records if r.get("split") == split},
                       key=lambda s: (len(s), s))
        if not scans:
            raise ValueError(f"{written}: no scans in split {split!r}")
        self.table = json.loads(Path(objects).read_text())
        self.scans: dict[str, Scene] = {}
        self.pieces: list[Piece] = []
        for scan in scans:
            scene = read_osd(self.root / f"{scan}.pcd", level=True).scene
            scene.scene_id = scan
            self.scans[scan] = scene
            self.pieces += pieces_of(scan, scene, self.table.get(scan, {}))
        self.bases = [s for s in scans if s in self.table and
                      all(is_query_category(v["category"]) for v in self.table[s].values())
                      and self.scans[s].cameras]
        if not self.bases or not self.pieces:
            raise ValueError(f"split {split!r} has no scan to compose on or to take from")
        self.records: list[dict] = []
        self._names: dict[int, str] = {}
        for number in range(scenes):
            scene, placed = self._build(number)
            facts = scan_facts(scene, self._objects(scene, placed))
            if not placed or facts is None:
                continue
            name = f"{scene.scene_id}~{number}"
            self._names[number] = name
            for r in sample_queries(facts, np.random.default_rng([seed, number, 1]), name,
                                    per_scene):
                self.records.append({"scan": name, "number": number,
                                     "description": r["description"],
                                     "object_ids": r["object_ids"],
                                     "eval_type": r["eval_type"], "kind": r["kind"],
                                     "split": split, "generated": True})

    def _objects(self, scene: Scene, placed: dict[int, Piece]) -> dict[str, dict]:
        named = dict(self.table[scene.scene_id.split("+")[0]])
        for object_id, piece in placed.items():
            named[str(object_id)] = {"category": piece.category, "colour": piece.colour}
        return named

    def _build(self, number: int) -> tuple[Scene, dict[int, Piece]]:
        rng = np.random.default_rng([self.seed, number])
        base = self.scans[self.bases[rng.integers(len(self.bases))]]
        others = [p for p in self.pieces if p.scan != base.scene_id]
        picks = rng.choice(len(others), size=min(int(rng.integers(1, 4)), len(others)),
                           replace=False)
        return composite(base, [others[i] for i in picks], rng)

    def __len__(self) -> int:
        return len(self.records)

    def scene_of(self, index: int) -> str:
        return self.records[index]["scan"]

    @functools.lru_cache(maxsize=2)  # noqa: B019 - a dataset lives as long as its run
    def scene(self, number: int) -> Scene:
        scene = dataclasses.replace(self._build(number)[0], scene_id=self._names[number])
        keep = network_subset(len(scene.points), self.max_points)
        return take_points(scene, keep) if keep is not None else scene

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        r = self.records[index]
        query = Query(r["description"], list(r["object_ids"]), f"{r['scan']}/{index}",
                      r["eval_type"], r["kind"])
        return Sample(self.scene(r["number"]), query)
