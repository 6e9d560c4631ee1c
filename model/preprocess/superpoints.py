"""Superpoints: a geometric over-segmentation whose segments do not cross object
boundaries (HCF-RES Eq. 1; the superpoints of 3D-STMN, MDIN and IPDN).

Computed once per cloud outside the graph, on the finest voxels (a few thousand rows, not
every point): each voxel is described by its centre, mean colour and surface normal, and
Ward agglomerative clustering (scikit-learn's, compiled: ``ward.py``), constrained to a
k-nearest-neighbour graph of the voxels, merges them until ``voxels /
voxels_per_superpoint`` segments remain. Ward merges the pair that least increases the
within-segment variance, so a segment stays compact in space, colour and orientation, and
the kNN constraint keeps it connected: it does not jump between two touching objects of
different colour or facing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.sparse import csr_matrix

from .neighbors import drop_self, kdtree_neighbors
from .voxels import voxel_members
from .ward import ward_labels


def voxel_normals(centers: np.ndarray, nn: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals from the PCA of each voxel's nearest voxel centres ``nn``
    (V, k), itself included, oriented up (n_z >= 0): a segment's facing, whatever the side
    the sensor saw it from."""
    around = centers[nn]
    local = around - around.mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(np.einsum("vki,vkj->vij", local, local))
    normals = vectors[:, :, 0]
    return normals * np.where(normals[:, 2:3] < 0, -1.0, 1.0)


def segment_voxels(centers: np.ndarray, colours: np.ndarray, voxels_per_superpoint: int,
                   k: int = 10, position_scale: float = 0.05, colour_scale: float = 0.15,
                   normal_scale: float = 0.5) -> np.ndarray:
    """(V,) superpoint id of every voxel, ids 0..S-1 with S = ceil(V / voxels_per_superpoint).

    The scales weigh what separates segments: 5 cm of distance, 0.15 of colour (RGB in
    [0, 1]) and 0.5 of normal difference count alike."""
    v = len(centers)
    count = max(1, math.ceil(v / max(voxels_per_superpoint, 1)))
    if v <= 2 or count == 1:
        return np.zeros(v, dtype=np.int64)
    k = min(k, v - 1)
    # one search serves both: the normals' neighbourhoods (self + k) and the graph (k)
    nn = kdtree_neighbors(centers, k + 1)
    features = np.concatenate([centers / position_scale, colours / colour_scale,
                               voxel_normals(centers, nn) / normal_scale], axis=1)
    return ward_labels(features, knn_graph(nn, k), count).astype(np.int64)


def knn_graph(nn: np.ndarray, k: int) -> csr_matrix:
    """Connectivity (V, V) of each row to its k nearest others (scikit-learn's
    ``kneighbors_graph(..., include_self=False)``) from a self-inclusive search ``nn``."""
    v = len(nn)
    others = drop_self(torch.from_numpy(nn), k).numpy()
    return csr_matrix((np.ones(v * k), others.ravel(), np.arange(0, v * k + 1, k)),
                      shape=(v, v))


def compute_superpoints(rgb: torch.Tensor, point2voxel: torch.Tensor, voxel_center: torch.Tensor,
                        voxels_per_superpoint: int, member_cap: int, order_key: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) superpoint of every point and (S, member_cap) member points per superpoint
    (pad N, the same gather-pooling layout as the voxels)."""
    v = voxel_center.shape[0]
    p2v = point2voxel.detach().cpu()
    colour_sum = torch.zeros(v, 3, dtype=torch.float64).index_add_(0, p2v, rgb.detach().cpu()
                                                                    .double())
    counts = torch.bincount(p2v, minlength=v).clamp_min(1).double()[:, None]
    labels = segment_voxels(voxel_center.detach().cpu().double().numpy(),
                            (colour_sum / counts).numpy(), voxels_per_superpoint)
    superpoint = torch.from_numpy(labels)[p2v].to(point2voxel.device)
    count = int(labels.max()) + 1 if len(labels) else 1
    members = voxel_members(superpoint, count, member_cap, order_key)
    return superpoint, members
