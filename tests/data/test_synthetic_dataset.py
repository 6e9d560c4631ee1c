"""A tiny generated dataset end to end: files, determinism, splits, queries, labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from query3d.data.readers.scene_folder import read_json, read_png
from query3d.data.sample import Sample, Scene
from query3d.model.runtime.density import network_subset
from query3d.training.data.synthetic.catalogue import CATEGORIES
from query3d.training.data.synthetic.dataset import SyntheticDataset
from query3d.training.data.synthetic.generate import generate_split
from query3d.training.data.synthetic.queries.program import (
    Program,
    check_query,
    denote,
    resolve,
)
from query3d.training.data.synthetic.queries.relations import footprint_gap
from query3d.training.data.synthetic.scene_gen import GeneratorOptions

OPTIONS = GeneratorOptions(cameras=2, width=320, height=240, queries_per_scene=12)
SCENES = {"train": 3, "val": 2, "test": 2}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    for split, n in SCENES.items():
        generate_split(out, split, n, seed=7, options=OPTIONS, workers=1, progress=False)
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(root, tmp_path) -> None:
    generate_split(tmp_path, "train", SCENES["train"], seed=7, options=OPTIONS, workers=2,
                   progress=False)
    assert _digest(tmp_path / "train") == _digest(root / "train")
    other = tmp_path / "other"
    generate_split(other, "train", 1, seed=8, options=OPTIONS, workers=1, progress=False)
    first = "scenes/tabletop_train_s8_00000/cloud.npz"
    assert _digest(other / "train")[first] != _digest(root / "train")[
        "scenes/tabletop_train_s7_00000/cloud.npz"]


def test_splits_share_no_scene(root) -> None:
    ids, clouds = {}, {}
    for split in SCENES:
        ds = SyntheticDataset(root, split)
        ids[split] = set(ds.scene_ids)
        clouds[split] = {h for k, h in _digest(root / split).items() if k.endswith("npz")}
        assert len(ids[split]) == SCENES[split]
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"]
    assert not clouds["train"] & clouds["val"] and not clouds["val"] & clouds["test"]


def test_every_query_is_consistent_with_its_scene(root) -> None:
    seen_kinds, seen_types = set(), set()
    for split in SCENES:
        ds = SyntheticDataset(root, split, load_cameras=False)
        for scene_id in ds.scene_ids:
            facts = ds.facts(scene_id)
            ids = {o.object_id for o in facts.objects}
            for r in ds.queries(scene_id):
                assert set(r["object_ids"]) <= ids
                n = len(r["object_ids"])
                assert r["eval_type"] == ("zt" if n == 0 else "st" if n == 1 else "mt")
                check_query(Program.from_json(r["program"]), r["object_ids"], facts)
                seen_kinds.add(r["kind"])
                seen_types.add(r["eval_type"])
    assert seen_types == {"zt", "st", "mt"}
    assert {"referring", "relation", "zero"} <= seen_kinds


def test_zero_target_queries_name_absent_things(root) -> None:
    ds = SyntheticDataset(root, "train", load_cameras=False)
    zero = 0
    for scene_id in ds.scene_ids:
        facts = ds.facts(scene_id)
        for r in ds.queries(scene_id):
            if r["eval_type"] != "zt":
                continue
            zero += 1
            desc = Program.from_json(r["program"]).descriptor
            matching = [o for o in facts.objects if desc.matches(o)]
            if desc.relation is None:
                assert matching == []  # no such category/colour/function at all
            else:
                assert denote(desc, facts) == (set(), set())
            if desc.category and desc.color is None and desc.relation is None:
                assert desc.category not in facts.all_categories
    assert zero > 0


def test_spatial_queries_hold_geometrically(root) -> None:
    checked = 0
    for split in SCENES:
        ds = SyntheticDataset(root, split, load_cameras=False)
        for scene_id in ds.scene_ids:
            facts = ds.facts(scene_id)
            for r in ds.queries(scene_id):
                desc = Program.from_json(r["program"]).descriptor
                if desc.relation is None:
                    continue
                anchors = [resolve(a, facts) for a in desc.anchors]
                for oid in r["object_ids"]:
                    t = facts.get(oid)
                    _assert_relation(desc.relation, t, anchors)
                    checked += 1
    assert checked > 0


def _assert_relation(rel, t, anchors) -> None:
    a = anchors[0]
    d = t.box.center - a.box.center
    if rel in ("left", "right", "front", "behind"):
        axis, sign = {"left": (1, 1), "right": (1, -1), "front": (0, -1),
                      "behind": (0, 1)}[rel]
        assert sign * d[axis] >= 0.05 and sign * d[axis] >= 0.6 * abs(d[1 - axis])
    elif rel == "on":
        bottom = t.box.center[2] - t.box.size[2] / 2
        assert bottom == pytest.approx(a.box.center[2] + a.box.size[2] / 2, abs=0.01)
        assert np.all(np.abs(d[:2]) <= a.box.size[:2].max() / 2 + 1e-6)
    elif rel == "next_to":
        assert footprint_gap(t, a) <= 0.06
    elif rel == "between":
        b = anchors[1].box.center[:2]
        seg = b - a.box.center[:2]
        lam = np.dot(t.box.center[:2] - a.box.center[:2], seg) / np.dot(seg, seg)
        assert 0.2 <= lam <= 0.8
    elif rel == "against":
        assert t.leaning_on == a.object_id


def test_labelled_points_project_onto_their_own_instance(root) -> None:
    """Occlusion is right: a cloud point seen by cam0 lands on a cam0 pixel of the same
    instance, and a point whose pixel shows another instance (and is not on that
    instance's silhouette) lies behind the surface cam0 sees there."""
    ds = SyntheticDataset(root, "train")
    same, total, see_through, hidden = 0, 0, 0, 0
    for scene_id in ds.scene_ids:
        scene = ds.scene(scene_id)
        d = ds.scene_dir(scene_id)
        cam = read_json(d / "cameras.json")[0]
        inst_img = read_png(d / cam["instance"]).astype(np.int64) - 1
        view = scene.cameras[0]
        pc = (scene.points - view.T_world_cam[:3, 3]) @ view.T_world_cam[:3, :3]
        u = np.round(view.K[0, 0] * pc[:, 0] / pc[:, 2] + view.K[0, 2]).astype(int)
        v = np.round(view.K[1, 1] * pc[:, 1] / pc[:, 2] + view.K[1, 2]).astype(int)
        ok = (pc[:, 2] > 0) & (u >= 0) & (u < cam["width"]) & (v >= 0) & (v < cam["height"])
        u, v, z, inst = u[ok], v[ok], pc[ok, 2], scene.instance[ok]
        seen = np.abs(view.depth[v, u] - z) < 0.01
        total += seen.sum()
        same += np.sum(inst_img[v, u][seen] == inst[seen])
        padded = np.pad(inst_img, 1, constant_values=-2)
        near_own = np.zeros(len(u), bool)
        for du in (-1, 0, 1):
            for dv in (-1, 0, 1):
                near_own |= padded[v + 1 + dv, u + 1 + du] == inst
        other = ~near_own & np.isfinite(view.depth[v, u])
        hidden += other.sum()
        see_through += np.sum(other & (z < view.depth[v, u] - 0.02))
    assert total > 1000 and same / total > 0.97
    assert hidden > 100  # other cameras do add points cam0 cannot see
    assert see_through <= 0.01 * hidden


def test_reader_yields_samples_and_scenes(root) -> None:
    ds = SyntheticDataset(root, "val", max_points=2000)
    assert len(ds) == len(read_json(root / "val" / "queries.json")) > 0
    sample = ds[0]
    assert isinstance(sample, Sample)
    assert len(sample.scene.points) == 2000
    # the cap draws the runtime's subset, so eval scores exactly what a node would answer
    whole = SyntheticDataset(root, "val")[0].scene
    assert np.array_equal(sample.scene.points,
                          whole.points[network_subset(len(whole.points), 2000)])
    assert sample.scene.colors.max() <= 1.0 and sample.scene.colors.dtype == np.float32
    for s in ds:
        mask = s.target_mask()
        assert mask.any() == (s.query.eval_type != "zt")
    scenes = list(ds.scenes())
    assert len(scenes) == SCENES["val"] and all(isinstance(s, Scene) for s in scenes)
    cam = scenes[0].cameras[0]
    assert cam.image.shape == (240, 320, 3) and cam.depth.dtype == np.float32
    assert np.isnan(cam.depth).any() and np.nanmax(cam.depth) < 5.0
    names = {o.category for s in scenes for o in s.objects}
    assert names <= set(CATEGORIES) and "table" in names
    with pytest.raises(FileNotFoundError, match="no such split"):
        SyntheticDataset(root, "holdout")


def test_room_scene_generates(tmp_path) -> None:
    opts = GeneratorOptions(kind="room", cameras=1, width=320, height=240)
    summary = generate_split(tmp_path, "test", 1, seed=1, options=opts, progress=False)
    assert summary["queries"] > 0
    scene = next(SyntheticDataset(tmp_path, "test").scenes())
    assert {"chair", "table"} & {o.category for o in scene.objects}
    assert np.ptp(scene.points[:, 0]) > 2.0  # metres of room, not a table top
    with pytest.raises(ValueError, match="kind"):
        GeneratorOptions(kind="garden")
    with pytest.raises(ValueError, match="scenes"):
        generate_split(tmp_path, "test", 0)
    with pytest.raises(ValueError, match="split"):
        generate_split(tmp_path, "dev", 1)
