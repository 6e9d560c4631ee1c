"""Superpoints: segments that do not cross object boundaries, deterministic, and the
network's masks constant over each of them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from query3d.bundled import DEMO_SCENE_DIR
from query3d.config import load_config
from query3d.data.readers.scene_folder import SceneSplit
from query3d.model.preprocess import prepare_frame
from query3d.model.runtime.density import network_subset


@pytest.fixture(scope="module")
def scene():
    split = SceneSplit(DEMO_SCENE_DIR)
    return split.read_scene(split.scene_ids[0], lambda n: network_subset(n, 6000))


def _purity(labels: np.ndarray, instance: np.ndarray) -> float:
    kept = 0
    for s in np.unique(labels):
        _, counts = np.unique(instance[labels == s], return_counts=True)
        kept += counts.max()
    return kept / len(labels)


def test_superpoints_follow_object_boundaries(scene) -> None:
    cfg = load_config("small").model
    frame = prepare_frame(scene.points, scene.colors, cfg)
    labels = frame.superpoint.numpy()
    voxels = frame.voxel_center[0].shape[0]
    count = frame.superpoint_members.shape[0]
    assert labels.max() + 1 == count
    per = cfg.voxels_per_superpoint
    assert voxels / (2 * per) < count <= voxels / per + 1
    assert _purity(labels, scene.instance) > 0.97
    # every superpoint has members, and its members are its own points
    members = frame.superpoint_members
    assert bool((members[:, 0] < len(labels)).all())
    real = members < len(labels)
    assert bool((frame.superpoint[members[real]] == torch.nonzero(real)[:, 0]).all())
    again = prepare_frame(scene.points, scene.colors, cfg)
    assert torch.equal(again.superpoint, frame.superpoint)


def test_a_tiny_cloud_is_one_superpoint() -> None:
    cfg = load_config("small").model
    frame = prepare_frame(np.array([[0.0, 0, 0], [0.001, 0, 0]]), None, cfg)
    assert frame.superpoint.tolist() == [0, 0]


def test_masks_are_constant_over_each_superpoint(scene) -> None:
    from query3d.model.mrcosmo import build_model

    cfg = dataclasses.replace(load_config("small").model, use_images=False)
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    frame = prepare_frame(scene.points, scene.colors, cfg)
    with torch.no_grad():
        out = net(frame, net.encode_text("the white cup"))
    logits, labels = out["mask_logits"], frame.superpoint
    first = torch.zeros(int(labels.max()) + 1, dtype=torch.long)
    first[labels.flip(0)] = torch.arange(len(labels) - 1, -1, -1)  # one point per superpoint
    torch.testing.assert_close(logits, logits[:, first][:, labels])
    assert out["seed_logits"].shape[0] == frame.superpoint_members.shape[0]
    with pytest.raises(ValueError, match="superpoints"):
        net(dataclasses.replace(frame, superpoint=None, superpoint_members=None),
            net.encode_text("x"))
