"""SemanticKITTI scans written in the release layout: sequences/XX/velodyne/NNNNNN.bin
(float32 x y z remission) and labels/NNNNNN.label (uint32, semantic | instance << 16)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from query3d.training.data.readers import KITTI_CLASSES, read_semantic_kitti_scan

# raw id -> expected training class name (None = unlabeled), from semantic-kitti.yaml
RAW_TO_NAME = {0: None, 1: None, 10: "car", 252: "car", 30: "person", 254: "person",
               40: "road", 60: "road", 52: None, 70: "vegetation", 259: "other-vehicle",
               81: "traffic-sign"}


def write_scan(root: Path, raw: np.ndarray, instance: np.ndarray, seq: str = "08",
               stem: str = "000042") -> Path:
    rng = np.random.default_rng(0)
    velodyne = root / "sequences" / seq / "velodyne"
    labels = root / "sequences" / seq / "labels"
    velodyne.mkdir(parents=True)
    labels.mkdir(parents=True)
    scan = rng.uniform(-20, 20, size=(len(raw), 4)).astype("<f4")
    scan[:, 3] = rng.uniform(0, 1, size=len(raw))
    (velodyne / f"{stem}.bin").write_bytes(scan.tobytes())
    label = (raw.astype(np.uint32) | (instance.astype(np.uint32) << 16)).astype("<u4")
    (labels / f"{stem}.label").write_bytes(label.tobytes())
    return velodyne / f"{stem}.bin"


RAW = np.array(list(RAW_TO_NAME) * 2)
INSTANCE = np.array([0, 0, 7, 7, 3, 9, 0, 0, 0, 0, 5, 0] * 2)


def test_learning_map_and_instances(tmp_path):
    path = write_scan(tmp_path, RAW, INSTANCE)
    scene = read_semantic_kitti_scan(path)
    scan = np.fromfile(path, dtype="<f4").reshape(-1, 4)
    assert scene.scene_id == "08_000042" and scene.colors is None
    np.testing.assert_array_equal(scene.points, scan[:, :3])
    names = [None if s < 0 else KITTI_CLASSES[s] for s in scene.semantic]
    assert names == [RAW_TO_NAME[r] for r in RAW]
    car, person = KITTI_CLASSES.index("car"), KITTI_CLASSES.index("person")
    # static car 10 and moving car 252 with instance 7 are one object; person 3 and 9 differ
    expected = {2: car * 65536 + 7, 3: car * 65536 + 7, 4: person * 65536 + 3,
                5: person * 65536 + 9, 10: KITTI_CLASSES.index("other-vehicle") * 65536 + 5}
    for i in range(12):
        assert scene.instance[i] == expected.get(i, -1)  # road/vegetation never instances
    assert {o.category for o in scene.objects} == {"car", "person", "other-vehicle"}
    assert len(scene.objects) == 4

    grey = read_semantic_kitti_scan(path, remission_as_color=True)
    np.testing.assert_allclose(grey.colors[:, 1], scan[:, 3])


def test_scan_without_labels(tmp_path):
    path = write_scan(tmp_path, RAW, INSTANCE)
    (path.parent.parent / "labels" / "000042.label").unlink()
    scene = read_semantic_kitti_scan(path)
    assert scene.instance is None and scene.semantic is None and len(scene.points) == 24


def test_bad_files_are_reported(tmp_path):
    path = write_scan(tmp_path, RAW, INSTANCE)
    label_path = path.parent.parent / "labels" / "000042.label"
    raw = path.read_bytes()
    path.write_bytes(raw[:-6])
    with pytest.raises(ValueError, match=r"000042\.bin: size 378 is not a multiple of 16"):
        read_semantic_kitti_scan(path)
    path.write_bytes(raw[:-16])
    with pytest.raises(ValueError, match=r"000042\.label: 96 bytes for 23 points"):
        read_semantic_kitti_scan(path)
    path.write_bytes(raw)
    label_path.write_bytes(np.full(24, 77, "<u4").tobytes())
    with pytest.raises(ValueError, match=r"000042\.label: semantic ids \[77\] are not in"):
        read_semantic_kitti_scan(path)
    with pytest.raises(ValueError, match=r"nothing\.bin: cannot read"):
        read_semantic_kitti_scan(tmp_path / "nothing.bin")
