"""Frame preprocessing: every index structure checked against a brute-force or library
reference, order invariance, camera projection by hand, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from query3d.config import ModelConfig
from query3d.data.sample import CameraView
from query3d.model.preprocess import (
    KERNEL_OFFSETS,
    FrameInputs,
    farthest_point_sampling,
    finite_points,
    kdtree_neighbors,
    knn_indices,
    prepare_frame,
    project_points_to_image,
    submanifold_kernel_map,
    window_groups,
)


def tabletop(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A table plane with a box on it: crowded voxels, empty space, several windows."""
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(-0.3, 0.3, n), rng.uniform(-0.2, 0.2, n),
                           rng.normal(0.0, 0.002, n)])
    box = n // 3
    pts[:box] = rng.uniform([-0.05, -0.05, 0.0], [0.05, 0.05, 0.12], (box, 3))
    return pts.astype(np.float32) + np.float32([2.0, -1.0, 0.7]), rng.uniform(0, 1, (n, 3))


CFG = ModelConfig(knn_k=6, voxel_size=0.02, voxel_scales=[1, 2, 4], window_size=4,
                  window_group_size=16, voxel_member_cap=8, num_seeds=32)


@pytest.fixture(scope="module")
def cloud() -> tuple[np.ndarray, np.ndarray, FrameInputs]:
    pts, rgb = tabletop(3000)
    return pts, rgb, prepare_frame(pts, rgb, CFG)


def test_shapes_dtypes_and_flat_names(cloud):
    pts, _, f = cloud
    n = len(pts)
    assert f.xyz.shape == (n, 3) and f.xyz.dtype == torch.float32
    assert f.rgb.shape == (n, 3) and 0 <= float(f.rgb.min()) and float(f.rgb.max()) <= 1
    assert f.knn.shape == (n, CFG.knn_k) and f.knn.dtype == torch.int64
    assert f.num_scales == 3 and f.seeds.shape == (CFG.num_seeds,)
    for s in range(3):
        v = f.voxel_coords[s].shape[0]
        assert f.voxel_center[s].shape == (v, 3) and f.point2voxel[s].shape == (n,)
        assert f.voxel_members[s].shape == (v, CFG.voxel_member_cap)
    assert f.voxel_coords[0].shape[0] > f.voxel_coords[1].shape[0] > f.voxel_coords[2].shape[0]
    assert f.kmap.shape == (f.voxel_coords[0].shape[0], 27)
    assert f.win_groups.shape[1] == CFG.window_group_size
    # centred on the bounding-box centre
    np.testing.assert_allclose(f.origin.numpy(), (pts.min(0) + pts.max(0)) / 2, atol=1e-6)
    np.testing.assert_allclose(f.xyz.numpy() + f.origin.numpy(), pts, atol=1e-5)
    names = f.names()
    assert names[:4] == ["xyz", "origin", "rgb", "knn"] and "voxel_members_2" in names
    assert "images" not in names
    back = FrameInputs.from_flat(names, list(f.as_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(back.as_dict().values(), f.as_dict().values()))


def test_knn_matches_ckdtree_and_torch_path():
    pts = np.random.default_rng(1).normal(size=(700, 3)).astype(np.float32)
    ref = cKDTree(pts.astype(np.float64)).query(pts.astype(np.float64), k=6)[1][:, 1:]
    x = torch.from_numpy(pts)
    assert torch.equal(knn_indices(x, 5, backend="kdtree"), torch.from_numpy(ref))
    assert torch.equal(knn_indices(x, 5, backend="torch", chunk=128), torch.from_numpy(ref))
    locality = torch.from_numpy(np.floor(pts[:, 0] * 3).astype(np.int64))
    assert torch.equal(knn_indices(x, 5, locality=locality), torch.from_numpy(ref))


def test_kdtree_neighbors_match_ckdtree_for_other_queries():
    rng = np.random.default_rng(4)
    pts, queries = rng.normal(size=(500, 3)), rng.normal(size=(300, 3))
    ref = cKDTree(pts).query(queries, k=3)[1]
    np.testing.assert_array_equal(kdtree_neighbors(pts, 3, queries=queries), ref)
    np.testing.assert_array_equal(kdtree_neighbors(pts, 1, queries=queries)[:, 0], ref[:, 0])
    with pytest.raises(ValueError, match="k must be"):
        kdtree_neighbors(pts[:2], 3)


def test_knn_excludes_self_with_duplicates_and_pads_tiny_clouds():
    pts = torch.tensor([[0.0, 0, 0], [0, 0, 0], [1, 0, 0], [3, 0, 0]])
    for backend in ("kdtree", "torch"):
        knn = knn_indices(pts, 2, backend=backend)
        assert (knn != torch.arange(4).unsqueeze(1)).all()
        assert set(knn[0].tolist()) == {1, 2} and set(knn[1].tolist()) == {0, 2}
        tiny = knn_indices(pts[:2], 3, backend=backend)
        assert tiny.tolist() == [[1, 2, 2], [0, 2, 2]]  # pad == N == 2


def test_voxels_contain_their_points_and_nest(cloud):
    _, _, f = cloud
    for s, scale in enumerate(CFG.voxel_scales):
        edge = CFG.voxel_size * scale
        gap = (f.xyz - f.voxel_center[s][f.point2voxel[s]]).abs().max()
        assert float(gap) <= edge / 2 + 1e-5
        keys = f.voxel_coords[s].tolist()
        assert len(set(map(tuple, keys))) == len(keys)  # unique voxels
        if s:
            factor = scale // CFG.voxel_scales[0]
            fine = f.voxel_coords[0][f.point2voxel[0]]
            assert torch.equal(fine // factor, f.voxel_coords[s][f.point2voxel[s]])


def test_voxel_members_are_capped_members_of_their_voxel(cloud):
    _, _, f = cloud
    for s in range(f.num_scales):
        members, n = f.voxel_members[s], f.num_points
        counts = torch.bincount(f.point2voxel[s], minlength=members.shape[0])
        valid = members < n
        assert torch.equal(valid.sum(1), counts.clamp(max=CFG.voxel_member_cap))
        owner = torch.arange(members.shape[0]).unsqueeze(1).expand_as(members)
        assert torch.equal(f.point2voxel[s][members[valid]], owner[valid])
        assert len(set(members[valid].tolist())) == int(valid.sum())  # no repeats


def brute_force_kmap(coords: torch.Tensor) -> torch.Tensor:
    where = {tuple(c): i for i, c in enumerate(coords.tolist())}
    v = len(where)
    return torch.tensor([[where.get(tuple(np.add(c, o)), v) for o in KERNEL_OFFSETS.tolist()]
                         for c in coords.tolist()])


@pytest.mark.parametrize("dense_limit", [1 << 22, 0])  # lookup table and searchsorted
def test_kernel_map_matches_brute_force(dense_limit):
    gen = torch.Generator().manual_seed(3)
    coords = torch.randint(0, 6, (150, 3), generator=gen).unique(dim=0)
    coords = coords[torch.randperm(len(coords), generator=gen)]
    kmap = submanifold_kernel_map(coords, dense_limit=dense_limit)
    assert torch.equal(kmap, brute_force_kmap(coords))
    assert torch.equal(kmap[:, 13], torch.arange(len(coords)))  # centre tap is itself


def test_window_partitions_cover_every_voxel_once(cloud):
    _, _, f = cloud
    coords, v = f.voxel_coords[0], f.voxel_coords[0].shape[0]
    for groups, inverse, shift in ((f.win_groups, f.win_inverse, 0),
                                   (f.win_groups_shifted, f.win_inverse_shifted, 2)):
        real = groups[groups < v]
        assert torch.equal(real.sort().values, torch.arange(v))
        assert torch.equal(groups.reshape(-1)[inverse], torch.arange(v))
        assert ((groups < v).sum(1) > 0).all()  # no empty group
        window = torch.div(coords + shift, CFG.window_size, rounding_mode="floor")
        for row in groups:
            members = row[row < v]
            assert (window[members] == window[members[0]]).all()  # never crosses a window
    assert not torch.equal(f.win_groups, f.win_groups_shifted)


def test_window_groups_split_crowded_windows():
    coords = torch.tensor(list(itertools.product(range(4), range(4), range(2))))  # 32 voxels
    groups, inverse = window_groups(coords, window=4, group_size=10)
    assert groups.shape == (4, 10) and int((groups < 32).sum()) == 32


def test_fps_spreads_points_and_backends_agree():
    rng = np.random.default_rng(4)
    centres = np.array([[0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]], dtype=np.float32)
    pts = np.concatenate([c + rng.normal(0, 0.1, (200, 3)) for c in centres]).astype(np.float32)
    seeds = farthest_point_sampling(torch.from_numpy(pts), 4)
    assert sorted((seeds // 200).tolist()) == [0, 1, 2, 3]  # one seed per cluster
    x = torch.from_numpy(rng.uniform(size=(2000, 3)).astype(np.float32))
    a = farthest_point_sampling(x, 50, backend="numpy")
    assert torch.equal(a, farthest_point_sampling(x, 50, backend="torch"))
    spread = torch.pdist(x[a]).min()
    random_subsets = [torch.pdist(x[torch.randperm(2000)[:50]]).min() for _ in range(20)]
    assert spread > max(random_subsets)
    assert farthest_point_sampling(x[:10], 50).shape == (10,)


def test_permuting_points_permutes_every_per_point_output(cloud):
    pts, rgb, f = cloud
    perm = np.random.default_rng(5).permutation(len(pts))
    g = prepare_frame(pts[perm], rgb[perm], CFG)
    for name in ("voxel_coords", "voxel_center"):
        for a, b in zip(getattr(f, name), getattr(g, name)):
            assert torch.equal(a, b)
    for name in ("kmap", "win_groups", "win_groups_shifted", "origin"):
        assert torch.equal(getattr(f, name), getattr(g, name))
    p = torch.from_numpy(perm)
    assert torch.equal(g.xyz, f.xyz[p])
    for s in range(f.num_scales):
        assert torch.equal(g.point2voxel[s], f.point2voxel[s][p])
        # the same points are kept per voxel (mapped through the permutation)
        inv = torch.argsort(p)
        mapped = torch.where(f.voxel_members[s] < len(p),
                             inv[f.voxel_members[s].clamp(max=len(p) - 1)], len(p))
        assert torch.equal(mapped.sort(1).values, g.voxel_members[s].sort(1).values)
    assert set(p[g.seeds].tolist()) == set(f.seeds.tolist())
    assert torch.equal(p[g.knn].sort(1).values, f.knn[p].sort(1).values)


def camera_looking_down(height: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Camera at (0, 0, height) looking down -z: optical z = -world z, x = x, y = -y."""
    K = np.array([[100.0, 0, 64], [0, 100.0, 48], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = np.diag([1.0, -1.0, -1.0])
    T[:3, 3] = [0, 0, height]
    return K, T


def test_projection_matches_hand_computation():
    K, T = camera_looking_down()
    pts = np.array([[0.1, 0.2, 0.0], [0.0, 0.0, 2.0], [5.0, 0.0, 0.0]])
    uv, z, in_view = project_points_to_image(pts, K, T, (96, 128))
    # point 0: optical (0.1, -0.2, 1.0) -> u = 100 * 0.1 + 64, v = 100 * -0.2 + 48
    np.testing.assert_allclose(uv[0].numpy(), [74.0, 28.0])
    assert float(z[0]) == pytest.approx(1.0)
    assert in_view.tolist() == [True, False, False]  # behind the camera; outside the image


def test_camera_inputs_and_depth_occlusion():
    K, T = camera_looking_down()
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    depth = np.full((96, 128), np.nan, dtype=np.float32)
    depth[20:40, 60:90] = 0.5  # a surface 0.5 m below the camera over point 0's pixel
    pts = np.array([[0.1, 0.2, 0.0], [0.05, 0.1, 0.5], [-0.3, -0.2, 0.0], [0.0, 0.0, 3.0]])
    cams = [CameraView(image=image, K=K, T_world_cam=T, depth=depth),
            CameraView(image=image, K=K, T_world_cam=T)]
    f = prepare_frame(pts, None, CFG, cameras=cams)
    assert f.images.shape == (2, 3, *CFG.image_size) and f.pix_uv.shape == (4, 2, 2)
    # depth camera: point 0 is hidden behind the 0.5 m surface, point 1 (same ray) is on it,
    # point 2 has no depth there, point 3 is behind the camera
    assert f.pix_valid[:, 0].tolist() == [False, True, False, False]
    assert f.pix_valid[:, 1].tolist() == [True, True, True, False]
    np.testing.assert_allclose(f.pix_uv[0, 1].numpy(), [(2 * 74 + 1) / 128 - 1,
                                                        (2 * 28 + 1) / 96 - 1], atol=1e-6)
    assert "pix_valid" in f.names()
    with pytest.raises(ValueError, match="without cameras"):
        prepare_frame(pts, None, CFG, images=[image])


def test_bad_input_raises_clear_errors():
    pts, rgb = tabletop(50)
    with pytest.raises(ValueError, match="0 points"):
        prepare_frame(np.zeros((0, 3)), None, CFG)
    bad = pts.copy()
    bad[[3, 7], 1] = [np.nan, np.inf]
    with pytest.raises(ValueError, match="2 rows with NaN/inf"):
        prepare_frame(bad, rgb, CFG)
    with pytest.raises(ValueError, match="colors has 49 rows but points has 50"):
        prepare_frame(pts, rgb[:49], CFG)
    with pytest.raises(ValueError, match=r"points must be \(N, 3\)"):
        prepare_frame(pts[:, :2], None, CFG)
    with pytest.raises(ValueError, match=r"colors must be in \[0, 1\]"):
        prepare_frame(pts, rgb * 255, CFG)
    kept_pts, kept_rgb, index = finite_points(bad, rgb)
    assert index.tolist() == [i for i in range(50) if i not in (3, 7)]
    np.testing.assert_array_equal(kept_rgb, rgb[index])
    assert prepare_frame(kept_pts, kept_rgb, CFG).num_points == 48
    t_pts, _, t_index = finite_points(torch.from_numpy(bad))
    assert torch.is_tensor(t_pts) and t_pts.shape == (48, 3) and t_index.tolist() == index.tolist()


def test_uint8_colours_and_torch_inputs():
    pts, rgb = tabletop(200)
    a = prepare_frame(pts, (rgb * 255).round().astype(np.uint8), CFG)
    b = prepare_frame(torch.from_numpy(pts), torch.from_numpy(rgb), CFG)
    assert float((a.rgb - b.rgb).abs().max()) <= 0.5 / 255 + 1e-6
    assert torch.equal(a.kmap, b.kmap) and torch.equal(a.seeds, b.seeds)
