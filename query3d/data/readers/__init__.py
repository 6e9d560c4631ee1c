"""Point-cloud files (``.pcd``, ``.ply``, ``.npz``) as ``Scene``s: what ``query3d segment``,
the ROS scene player and the benchmark readers of ``query3d.training`` share.

Every reader checks its file and fails with ``ValueError("<file>: <problem>")``.
"""

from query3d.data.readers.cloud import read_cloud
from query3d.data.readers.common import CloudFile, camera_from_organized, fit_pinhole
from query3d.data.readers.pcd import read_pcd_fields
from query3d.data.readers.ply import read_ply_vertices

__all__ = ["CloudFile", "camera_from_organized", "fit_pinhole", "read_cloud",
           "read_pcd_fields", "read_ply_vertices"]
