"""Frame preprocessing: index structures computed outside the exported graph."""

from .cameras import camera_correspondences, normalise_image, project_points_to_image
from .frame import finite_points, prepare_frame
from .inputs import FrameInputs
from .neighbors import kdtree_neighbors, knn_indices
from .sampling import farthest_point_sampling
from .voxels import KERNEL_OFFSETS, submanifold_kernel_map, voxelize
from .windows import window_groups

__all__ = [
    "KERNEL_OFFSETS",
    "FrameInputs",
    "camera_correspondences",
    "farthest_point_sampling",
    "finite_points",
    "kdtree_neighbors",
    "knn_indices",
    "normalise_image",
    "prepare_frame",
    "project_points_to_image",
    "submanifold_kernel_map",
    "voxelize",
    "window_groups",
]
