"""S3DIS rooms written in the release layout: Area_N/<room>/Annotations/<class>_<i>.txt
with rows ``x y z r g b`` (three decimals, integer colours, as the release has them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from query3d.training.data.readers import S3DIS_CLASSES, list_s3dis_rooms, read_s3dis_room


def write_annotation(path: Path, points: np.ndarray, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{x:.3f} {y:.3f} {z:.3f} {r} {g} {b}" for (x, y, z), (r, g, b)
            in zip(points.tolist(), rgb.tolist())]
    path.write_text("\n".join(rows) + "\n")


def write_room(root: Path, area: int = 1, room: str = "office_1") -> Path:
    rng = np.random.default_rng(area)
    room_dir = root / f"Area_{area}" / room
    # chair_10 must come after chair_2 (natural order), stairs folds into clutter
    for name, centre in (("chair_10", (3, 1, 0.4)), ("chair_2", (1, 1, 0.4)),
                         ("table_1", (2, 2, 0.7)), ("floor_1", (2, 2, 0)),
                         ("stairs_1", (4, 4, 0.5))):
        pts = np.asarray(centre) + rng.uniform(-0.3, 0.3, size=(20, 3))
        write_annotation(room_dir / "Annotations" / f"{name}.txt", pts,
                         rng.integers(0, 256, size=(20, 3)))
    (room_dir / f"{room}.txt").write_text("")  # the whole-room file is not used
    return room_dir


def test_room_instances_classes_and_boxes(tmp_path):
    room = write_room(tmp_path)
    scene = read_s3dis_room(room)
    assert scene.scene_id == "Area_1_office_1" and len(scene.points) == 100
    names = [scene.class_names[scene.semantic[scene.instance == i][0]] for i in range(5)]
    assert names == ["chair", "chair", "floor", "clutter", "table"]
    chair_2 = np.loadtxt(room / "Annotations" / "chair_2.txt")
    np.testing.assert_allclose(scene.points[scene.instance == 0], chair_2[:, :3], atol=1e-6)
    np.testing.assert_allclose(scene.colors[scene.instance == 0], chair_2[:, 3:] / 255,
                               atol=1e-6)
    box = scene.object(4)
    assert box.category == "table"
    np.testing.assert_allclose(box.center, [2, 2, 0.7], atol=0.31)
    assert len(S3DIS_CLASSES) == 13


def test_list_rooms(tmp_path):
    write_room(tmp_path, 1, "office_1")
    write_room(tmp_path, 1, "hallway_2")
    write_room(tmp_path, 5, "office_3")
    assert [p.name for p in list_s3dis_rooms(tmp_path, areas=(1, 5))] == [
        "hallway_2", "office_1", "office_3"]
    with pytest.raises(ValueError, match="Area_2: no such S3DIS area"):
        list_s3dis_rooms(tmp_path, areas=(2,))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("chair_3.txt", "1.0 2.0 3.0 10 20 30\n1.0 2.0 3.0 10 20\n",
         r"chair_3\.txt: bad row .*row 2"),
        ("chair_3.txt", "1.0 2.0 3.0 10 20 30\n1.0 2.0 3.0 1\x10 20 30\n",
         r"chair_3\.txt: bad row"),
        ("chair_3.txt", "1 2 3 4\n", r"chair_3\.txt: rows must be 'x y z r g b', found 4"),
        ("chair_3.txt", "1 2 3 10 20 300\n", r"chair_3\.txt: colours must be 0-255"),
        ("chair_3.txt", "", r"chair_3\.txt: no points"),
        ("robot_1.txt", "1 2 3 4 5 6\n", r"robot_1\.txt: unknown S3DIS class 'robot'"),
        ("chair.txt", "1 2 3 4 5 6\n", r"chair\.txt: annotation files are named"),
    ],
)
def test_bad_annotation_files_are_reported(tmp_path, name, text, message):
    room = write_room(tmp_path)
    (room / "Annotations" / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        read_s3dis_room(room)


def test_room_without_annotations(tmp_path):
    (tmp_path / "Area_1" / "empty").mkdir(parents=True)
    with pytest.raises(ValueError, match="no Annotations/ folder"):
        read_s3dis_room(tmp_path / "Area_1" / "empty")
