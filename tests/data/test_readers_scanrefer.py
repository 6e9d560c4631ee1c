"""ScanRefer / Multi3DRefer JSON and 3D-STMN ``_refer.pth`` scenes, written in tmp_path
exactly as the originals are (field names, string ids, float64 arrays, -100 ignore)."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from query3d.training.data.readers import (
    ReferDataset,
    read_multi3drefer,
    read_refer_scene,
    read_scanrefer,
)


def prepared_scene(n: int = 200, seed: int = 0):
    """What prepare_data_refer.py computes from a ScanNet mesh."""
    rng = np.random.default_rng(seed)
    vertices = rng.uniform(0, 5, size=(n, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(n, 3)).astype(np.uint8)
    points = np.concatenate([vertices, rgb], axis=1).astype(np.float64)  # as plyfile rows
    coords = np.ascontiguousarray(points[:, :3] - points[:, :3].mean(0))
    colors = np.ascontiguousarray(points[:, 3:6]) / 127.5 - 1
    superpoint = rng.integers(0, 12, size=n).astype(np.int64)
    remapper = np.ones(150) * (-100)
    for i, x in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36,
                           39]):
        remapper[x] = i
    nyu40 = np.where(np.arange(n) < 40, 5, np.where(np.arange(n) < 80, 7, 0))  # chair, table
    sem_labels = remapper[nyu40]
    instance_labels = np.where(np.arange(n) < 40, 3, np.where(np.arange(n) < 80, 8, -1))
    return coords, colors, superpoint, sem_labels, instance_labels, rgb


def write_scene(folder: Path, scene_id: str = "scene0000_00", seed: int = 0) -> Path:
    coords, colors, superpoint, sem, inst, _ = prepared_scene(seed=seed)
    path = folder / f"{scene_id}_refer.pth"
    torch.save((coords, colors, superpoint, sem, inst.astype(np.int64)), path)
    return path


def test_scene_arrays_match_preprocessing(tmp_path):
    coords, colors, superpoint, sem, inst, rgb = prepared_scene()
    path = write_scene(tmp_path)
    loaded = read_refer_scene(path)
    scene = loaded.scene
    assert scene.scene_id == "scene0000_00"
    np.testing.assert_allclose(scene.points, coords, atol=1e-6)
    np.testing.assert_allclose(scene.colors, rgb / 255.0, atol=1e-6)
    np.testing.assert_array_equal(loaded.superpoint, superpoint)
    np.testing.assert_array_equal(scene.instance, inst)
    expected_sem = np.where(np.arange(200) < 40, 4, np.where(np.arange(200) < 80, 6, -1))
    np.testing.assert_array_equal(scene.semantic, expected_sem)  # 5 -> chair, 7 -> table
    assert {o.object_id: o.category for o in scene.objects} == {3: "chair", 8: "table"}
    chair = scene.object(3)
    np.testing.assert_allclose(chair.center, (coords[:40].min(0) + coords[:40].max(0)) / 2,
                               atol=1e-5)


def test_numpy1_pickles_load_weights_only(tmp_path):
    """Published preprocessed scenes were pickled under numpy 1 (numpy.core.*)."""
    path = write_scene(tmp_path)
    with zipfile.ZipFile(path) as original:
        entries = {name: original.read(name) for name in original.namelist()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as patched:
        for name, data in entries.items():
            if name.endswith("data.pkl"):
                assert b"numpy._core.multiarray\n" in data
                data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            patched.writestr(name, data)
    old = tmp_path / "scene0001_00_refer.pth"
    old.write_bytes(buf.getvalue())
    assert "numpy.core.multiarray._reconstruct" in (
        torch.serialization.get_unsafe_globals_in_checkpoint(str(old)))
    np.testing.assert_array_equal(read_refer_scene(old).scene.instance,
                                  read_refer_scene(path).scene.instance)


def test_test_split_without_labels(tmp_path):
    coords, colors, superpoint, *_ = prepared_scene()
    torch.save((coords, colors, superpoint), tmp_path / "scene0707_00_refer.pth")
    scene = read_refer_scene(tmp_path / "scene0707_00_refer.pth").scene
    assert scene.instance is None and scene.semantic is None and scene.objects == []


def test_foreign_objects_refused_unless_trusted(tmp_path):
    coords, colors, superpoint, sem, inst, _ = prepared_scene()
    path = tmp_path / "x_refer.pth"
    torch.save((datetime.timedelta(days=1), colors, superpoint, sem, inst), path)
    with pytest.raises(ValueError, match=r"x_refer\.pth: cannot load"):
        read_refer_scene(path)
    with pytest.raises(ValueError, match=r"coords must be \(N, 3\)"):
        read_refer_scene(path, trusted=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: (t[0], (t[1] + 1) * 127.5, *t[2:]), "colors must be rgb/127.5-1"),
        (lambda t: (*t[:3], np.where(t[3] == 4, 25.0, t[3]), t[4]), "sem_labels go up to 25"),
        (lambda t: (*t[:4], np.where(t[4] == 3, -7, t[4])),
         r"instance_labels holds negative values \[-7\]"),
        (lambda t: (t[0], t[1][:-1], *t[2:]), "colors has 199 rows, coords has 200"),
        (lambda t: t[:4], r"expected \(coords, colors, superpoint"),
        (lambda t: (*t[:3], t[3] + 0.5, t[4]), "sem_labels holds non-integer values"),
    ],
)
def test_malformed_scenes_are_reported(tmp_path, change, message):
    path = tmp_path / "bad_refer.pth"
    torch.save(change(prepared_scene()[:5]), path)
    with pytest.raises(ValueError, match=rf"bad_refer\.pth: {message}"):
        read_refer_scene(path)


def test_truncated_scene_file(tmp_path):
    path = write_scene(tmp_path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"scene0000_00_refer\.pth: cannot load"):
        read_refer_scene(path)


SCANREFER = [
    {"scene_id": "scene0000_00", "object_id": "3", "object_name": "office_chair",
     "ann_id": "0", "description": "the chair next to the table.",
     "token": ["the", "chair", "next", "to", "the", "table", "."]},
    {"scene_id": "scene0000_00", "object_id": "8", "object_name": "table", "ann_id": "1",
     "description": "a brown table in the middle of the room.", "token": ["a"]},
]
MULTI3DREFER = [
    {"scene_id": "scene0000_00", "object_name": "chair", "ann_id": 4, "object_ids": [3, 8],
     "description": "all the furniture.", "eval_type": "mt", "spatial": False, "color": False,
     "texture": False, "shape": False},
    {"scene_id": "scene0000_00", "object_name": "sofa", "ann_id": 5, "object_ids": [],
     "description": "the blue sofa.", "eval_type": "zt_w_d", "spatial": False, "color": True,
     "texture": False, "shape": False},
    {"scene_id": "scene0000_00", "object_name": "chair", "ann_id": 6, "object_ids": [3],
     "description": "the only chair.", "eval_type": "st_wo_d", "spatial": False,
     "color": False, "texture": False, "shape": False},
]


def test_scanrefer_and_multi3drefer_records(tmp_path):
    (tmp_path / "sr.json").write_text(json.dumps(SCANREFER))
    (tmp_path / "m3.json").write_text(json.dumps(MULTI3DREFER))
    sr = read_scanrefer(tmp_path / "sr.json")
    assert [r.query.object_ids for r in sr] == [[3], [8]]
    assert sr[0].query.ann_id == "0" and sr[0].object_name == "office_chair"
    assert {r.query.eval_type for r in sr} == {"st"}
    m3 = read_multi3drefer(tmp_path / "m3.json")
    assert [(r.query.eval_type, r.query.kind, r.subset) for r in m3] == [
        ("mt", "multi", "mt"), ("zt", "zero", "zt_w_d"), ("st", "referring", "st_wo_d")]
    assert m3[1].query.object_ids == [] and m3[0].query.ann_id == "4"


@pytest.mark.parametrize(
    ("reader", "entries", "message"),
    [
        (read_scanrefer, [{**SCANREFER[0], "object_id": "chair"}], "entry 0: object_id 'chair'"),
        (read_scanrefer, [SCANREFER[0], {k: v for k, v in SCANREFER[1].items()
                                         if k != "description"}], "entry 1 lacks description"),
        (read_multi3drefer, [{**MULTI3DREFER[0], "eval_type": "st_w_d"}],
         "entry 0: eval_type st_w_d with 2 targets"),
        (read_multi3drefer, [{**MULTI3DREFER[0], "eval_type": "multi"}],
         "entry 0: eval_type 'multi' is not one"),
        (read_multi3drefer, {"not": "a list"}, "expected a JSON list"),
    ],
)
def test_bad_annotations_are_reported(tmp_path, reader, entries, message):
    (tmp_path / "a.json").write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=rf"a\.json: {message}"):
        reader(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps(SCANREFER)[:-30])
    with pytest.raises(ValueError, match=r"b\.json: not a readable JSON file"):
        reader(tmp_path / "b.json")


def test_dataset_joins_records_and_scenes(tmp_path):
    write_scene(tmp_path, "scene0000_00")
    (tmp_path / "m3.json").write_text(json.dumps(MULTI3DREFER))
    dataset = ReferDataset(read_multi3drefer(tmp_path / "m3.json"), tmp_path)
    assert len(dataset) == 3
    multi, zero, single = dataset[0], dataset[1], dataset[2]
    np.testing.assert_array_equal(multi.target_mask(), np.arange(200) < 80)
    assert not zero.target_mask().any()
    np.testing.assert_array_equal(single.target_mask(), np.arange(200) < 40)
    assert multi.scene is single.scene  # one load per scene

    missing = read_scanrefer_with_target(tmp_path, 99)
    with pytest.raises(ValueError, match=r"scene0000_00_refer\.pth: annotation 0 targets "
                                         r"objects \[99\]"):
        ReferDataset(missing, tmp_path)[0]


def read_scanrefer_with_target(folder: Path, object_id: int):
    (folder / "sr.json").write_text(json.dumps([{**SCANREFER[0], "object_id": str(object_id)}]))
    return read_scanrefer(folder / "sr.json")
