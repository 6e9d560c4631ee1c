"""OSD / mOSD Kinect tabletop scans (organized 640x480 PCD, fields ``label x y z rgba``).

Label scheme (the dataset's SOURCE-README.md): 0 = invalid (NaN) point, 1-9 = parts of
the supporting table, 20-29 = parts of the first object, 30-39 = the second, ... mOSD
gives disjoint parts of one occluded object different labels; dividing by ten merges
them back (the README's own relabelling), which is what a referring query means by "the
object". The cloud is in the Kinect's optical frame (x right, y down, z forward).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from query3d.data.readers.cloud import read_cloud
from query3d.data.readers.common import CloudFile, bad_file, boxes_from_instances
from query3d.geometry import fit_plane, levelling_transform

OSD_CLASSES = ["table", "object"]
TABLE_LABELS = range(1, 10)
FIRST_OBJECT_LABEL = 20


def osd_instances(labels: np.ndarray, merge_parts: bool = True,
                  table_as_instance: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-point (instance, semantic) from raw OSD labels.

    Merged instance ids follow the README's relabelling (table 1, objects 2, 3, ...), so
    they match files produced by its ``merge_object_parts.sh``; unmerged ids are the raw
    part labels. The table is background (-1) unless ``table_as_instance``: it is what
    objects stand on, not something a grasp query selects.
    """
    labels = labels.astype(np.int64)
    is_table = (labels >= 1) & (labels <= 9)
    is_object = labels >= FIRST_OBJECT_LABEL
    instance = np.full(len(labels), -1, dtype=np.int64)
    if merge_parts:
        instance[is_object] = labels[is_object] // 10
        if table_as_instance:
            instance[is_table] = 1
    else:
        instance[is_object] = labels[is_object]
        if table_as_instance:
            instance[is_table] = labels[is_table]
    semantic = np.full(len(labels), -1, dtype=np.int64)
    semantic[is_table] = OSD_CLASSES.index("table")
    semantic[is_object] = OSD_CLASSES.index("object")
    return instance, semantic


def table_frame(table_points: np.ndarray) -> np.ndarray:
    """Camera-to-world pose putting the scan in the synthetic benchmark's convention:
    z up from the table plane (z = 0 on it), x along the camera's forward direction
    projected on the table, origin below the camera, so "left" is +y as for the robot
    (``query3d.geometry.levelling_transform``, which the runtime uses on an estimated
    plane). The plane is a least-squares fit (SVD) of the labelled table points."""
    try:
        return levelling_transform(fit_plane(table_points))
    except ValueError:
        raise ValueError("the table plane needs at least three table points") from None


def read_osd(path: str | Path, keep_nan: bool = False, merge_parts: bool = True,
             table_as_instance: bool = False, level: bool = False) -> CloudFile:
    """An OSD / mOSD scan as a labelled scene with its Kinect view (intrinsics fitted
    from the organized grid). Points stay in the optical frame (identity extrinsics)
    unless ``level``, which moves them to the z-up table frame of :func:`table_frame`
    (what z-rotation augmentations and the synthetic scenes assume)."""
    cloud = read_cloud(path, keep_nan=True)
    path = cloud.path
    if "label" not in cloud.fields or cloud.scene.colors is None:
        raise bad_file(path, f"OSD scans have label and rgba fields; this file has "
                             f"{sorted(cloud.fields)}")
    labels = cloud.fields["label"].astype(np.int64)
    unexpected = np.unique(labels[(labels >= 10) & (labels < FIRST_OBJECT_LABEL)])
    if unexpected.size:
        raise bad_file(path, f"labels {unexpected.tolist()} are outside the OSD scheme "
                             "(0 invalid, 1-9 table, 20+ objects)")
    invalid = ~np.isfinite(cloud.scene.points).all(axis=1)
    if np.any(invalid & (labels != 0)):
        raise bad_file(path, f"{int(np.sum(invalid & (labels != 0)))} NaN points carry a "
                             "non-zero label; OSD gives every NaN point label 0")
    instance, semantic = osd_instances(labels, merge_parts, table_as_instance)
    keep = np.ones(len(labels), bool) if keep_nan else ~invalid
    scene = cloud.scene
    scene.points = scene.points[keep]
    scene.colors = scene.colors[keep]
    scene.instance = instance[keep]
    scene.semantic = semantic[keep]
    scene.class_names = list(OSD_CLASSES)
    if level:
        pose = table_frame(scene.points[scene.semantic == OSD_CLASSES.index("table")])
        scene.points = (scene.points.astype(np.float64) @ pose[:3, :3].T
                        + pose[:3, 3]).astype(np.float32)
        for camera in scene.cameras:
            camera.T_world_cam = pose @ camera.T_world_cam
    categories = {}
    for object_id in np.unique(scene.instance[scene.instance >= 0]):
        first = np.flatnonzero(scene.instance == object_id)[0]
        categories[int(object_id)] = OSD_CLASSES[int(scene.semantic[first])]
    scene.objects = boxes_from_instances(scene.points, scene.instance, categories)
    return CloudFile(scene=scene, path=path, width=cloud.width, height=cloud.height,
                     index=cloud.index[keep],
                     fields={k: v[keep] for k, v in cloud.fields.items()})
