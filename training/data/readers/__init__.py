"""Readers for real benchmarks (OSD, S3DIS, ScanNet, ScanRefer / Multi3DRefer,
SemanticKITTI), each producing the project's one ``Scene`` / ``Sample`` type.

Plain point-cloud files are read by ``query3d.data.readers``, which these build on.
Every reader checks its files and fails with ``ValueError("<file>: <problem>")``.
"""

from query3d.training.data.readers.osd import OSD_CLASSES, osd_instances, read_osd
from query3d.training.data.readers.s3dis import S3DIS_CLASSES, list_s3dis_rooms, read_s3dis_room
from query3d.training.data.readers.scannet_frames import read_scannet_frames, refer_centre
from query3d.training.data.readers.scanrefer import (
    SCANNET20_CLASSES,
    ReferDataset,
    ReferRecord,
    ReferScene,
    read_multi3drefer,
    read_refer_scene,
    read_scanrefer,
)
from query3d.training.data.readers.semantic_kitti import (
    KITTI_CLASSES,
    read_semantic_kitti_scan,
)

__all__ = [
    "KITTI_CLASSES", "OSD_CLASSES", "S3DIS_CLASSES", "SCANNET20_CLASSES",
    "ReferDataset", "ReferRecord", "ReferScene", "list_s3dis_rooms", "osd_instances",
    "read_multi3drefer", "read_osd",
    "read_refer_scene", "read_s3dis_room", "read_scannet_frames", "read_scanrefer",
    "read_semantic_kitti_scan", "refer_centre",
]
