"""The compiled Ward clustering gives scikit-learn's labels, id for id: on random features
(both ways scikit-learn cuts: the whole tree for few clusters, early stopping for many;
a graph of separate components) and on the superpoints of the real demo scene."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.cluster import AgglomerativeClustering
from sklearn.neighbors import kneighbors_graph

from query3d.bundled import DEMO_SCENE_DIR
from query3d.config import load_config
from query3d.data.readers.scene_folder import SceneSplit
from query3d.model.preprocess import prepare_frame
from query3d.model.preprocess.neighbors import kdtree_neighbors
from query3d.model.preprocess.superpoints import knn_graph, voxel_normals
from query3d.model.preprocess.ward import ward_labels


def _sklearn(features: np.ndarray, graph, n_clusters: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return AgglomerativeClustering(n_clusters=n_clusters, connectivity=graph,
                                       linkage="ward").fit_predict(features)


@pytest.mark.parametrize(("n", "k", "n_clusters", "apart"), [
    (60, 5, 1, False),      # one cluster
    (60, 5, 4, True),       # whole tree, cut: two components joined
    (400, 6, 25, False),    # whole tree (n_clusters < 100)
    (1500, 8, 180, True),   # early stop at n_clusters, two components
    (300, 4, 300, False),   # every sample its own cluster
])
def test_ward_labels_equal_scikit_learn(n: int, k: int, n_clusters: int, apart: bool) -> None:
    rng = np.random.default_rng(n + n_clusters)
    features = rng.normal(size=(n, 9))
    if apart:
        features[: n // 2, :3] += 20.0  # a kNN graph of two separate parts
    graph = kneighbors_graph(features[:, :3], k, include_self=False)
    np.testing.assert_array_equal(ward_labels(features, graph, n_clusters),
                                  _sklearn(features, graph, n_clusters))


def test_ward_labels_equal_scikit_learn_on_the_demo_scene() -> None:
    split = SceneSplit(DEMO_SCENE_DIR)
    scene = split.read_scene(split.scene_ids[0])
    cfg = load_config("small").model
    frame = prepare_frame(scene.points, scene.colors, cfg)
    centers = frame.voxel_center[0].double().numpy()
    p2v = frame.point2voxel[0]
    colour = torch.zeros(len(centers), 3, dtype=torch.float64).index_add_(
        0, p2v, frame.rgb.double()) / torch.bincount(p2v).clamp_min(1)[:, None]
    nn = kdtree_neighbors(centers, 11)
    features = np.concatenate([centers / 0.05, colour.numpy() / 0.15,
                               voxel_normals(centers, nn) / 0.5], axis=1)
    graph = knn_graph(nn, 10)  # the runtime's graph, from the search that gave the normals
    # a k-nearest graph like scikit-learn's: each voxel's 10 neighbours lie at the same
    # distances (voxel centres sit on a lattice, so which of several tied ones is taken
    # differs between kd-trees)
    reference = kneighbors_graph(centers, 10, mode="distance", include_self=False)
    ours = np.linalg.norm(centers[graph.indices] - np.repeat(centers, 10, axis=0), axis=1)
    np.testing.assert_allclose(np.sort(ours.reshape(-1, 10), axis=1),
                               np.sort(reference.data.reshape(-1, 10), axis=1), atol=1e-12)
    count = len(centers) // cfg.voxels_per_superpoint
    labels = ward_labels(features, graph, count)
    np.testing.assert_array_equal(labels, _sklearn(features, graph, count))
    assert len(np.unique(labels)) == count


def test_ward_labels_refuse_an_impossible_count() -> None:
    features = np.zeros((5, 3))
    graph = kneighbors_graph(np.arange(15.0).reshape(5, 3), 2, include_self=False)
    with pytest.raises(ValueError, match="n_clusters"):
        ward_labels(features, graph, 6)
    with pytest.raises(ValueError, match="n_clusters"):
        ward_labels(features, graph, 0)
    with pytest.raises(ValueError, match="connectivity"):
        ward_labels(features, graph[:4, :4], 2)
    assert ward_labels(np.zeros((1, 3)), sp.csr_array((1, 1)), 1).tolist() == [0]
