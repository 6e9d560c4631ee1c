"""Ray casting, CSG solids, cameras and cloud helpers of the synthetic renderer."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.training.data.synthetic.camera import PinholeCamera, kinect_intrinsics, look_at
from query3d.training.data.synthetic.cloud import backproject, voxel_first
from query3d.training.data.synthetic.colors import fixed_material
from query3d.training.data.synthetic.linalg3 import dot3, mat3
from query3d.training.data.synthetic.parts import box, cylinder, ellipsoid, rot_x, rot_z
from query3d.training.data.synthetic.primitives import Primitive, Solid, as_components
from query3d.training.data.synthetic.render import RenderItem, cast

RNG = np.random.default_rng(0)


def _hit(solid: Solid, origin, direction) -> float:
    o, d = as_components(np.asarray([origin], float), np.asarray([direction], float))
    return float(solid.intersect(o, d)[0])


def test_sphere_hit_matches_closed_form() -> None:
    s = Solid((ellipsoid([1.0, 2.0, 3.0], [0.5, 0.5, 0.5]),))
    # From 4 m away along x the first hit is 4 - r.
    assert _hit(s, [5.0, 2.0, 3.0], [-1.0, 0, 0]) == pytest.approx(3.5, abs=1e-5)
    assert _hit(s, [5.0, 2.6, 3.0], [-1.0, 0, 0]) == np.inf  # passes beside it


def test_rotated_box_hit_matches_slab_distance() -> None:
    R = rot_z(np.pi / 4)
    s = Solid((box([0, 0, 0], [2.0, 2.0, 2.0], R),))
    # Along the rotated x axis the face is 1 m from the centre.
    axis = R[:, 0]
    assert _hit(s, 3 * axis, -axis) == pytest.approx(2.0, abs=1e-5)
    # Along world x the box corner (at sqrt 2) is hit first.
    assert _hit(s, [3.0, 0, 0], [-1.0, 0, 0]) == pytest.approx(3 - np.sqrt(2), abs=1e-5)


def test_cylinder_side_cap_and_cone_taper() -> None:
    cyl = Solid((cylinder([0, 0, 0], 0.1, 0.4),))
    assert _hit(cyl, [0, 0, 2.0], [0, 0, -1.0]) == pytest.approx(1.6, abs=1e-5)  # top cap
    assert _hit(cyl, [1.0, 0, 0.2], [-1.0, 0, 0]) == pytest.approx(0.9, abs=1e-5)  # side
    cone = Solid((cylinder([0, 0, 0], 0.2, 1.0, top_radius=0.1),))
    # Radius at half height is 0.15.
    assert _hit(cone, [1.0, 0, 0.5], [-1.0, 0, 0]) == pytest.approx(0.85, abs=1e-5)
    assert _hit(cone, [1.0, 0, 0.99], [-1.0, 0, 0]) == pytest.approx(1 - 0.101, abs=1e-4)


def test_hollow_cup_shows_its_floor_and_inner_wall() -> None:
    r, h, floor = 0.04, 0.1, 0.01
    cup = Solid((cylinder([0, 0, 0], r, h),), minus=cylinder([0, 0, floor], r - 0.005, h))
    # Straight down into the opening: the inner floor, not the rim plane.
    assert _hit(cup, [0, 0, 1.0], [0, 0, -1.0]) == pytest.approx(1.0 - floor, abs=1e-5)
    # From the side: the outer wall.
    assert _hit(cup, [1.0, 0, 0.05], [-1.0, 0, 0]) == pytest.approx(1.0 - r, abs=1e-5)
    # Steeply down past the near rim: the far inner wall at x = -(r - wall).
    d = np.array([-0.5, 0, -1.0])
    t = _hit(cup, [0.045, 0, 0.2], d)
    assert 0.045 + t * d[0] == pytest.approx(-(r - 0.005), abs=1e-4)


def test_hits_agree_with_point_containment() -> None:
    """Just past each hit the ray is inside the solid, just before it is outside."""
    mug = Solid((cylinder([0, 0, 0], 0.04, 0.1),), minus=cylinder([0, 0, 0.01], 0.035, 0.2))
    tilted = Solid((box([0, 0, 0.05], [0.1, 0.2, 0.05], rot_x(0.4) @ rot_z(0.3)),))
    for solid in (mug, tilted):
        origins = RNG.uniform(-0.5, 0.5, (400, 3)) + [0, 0, 0.6]
        targets = RNG.uniform(-0.05, 0.05, (400, 3)) + [0, 0, 0.05]
        dirs = targets - origins
        o, d = as_components(origins, dirs)
        t = solid.intersect(o, d).astype(np.float64)
        hit = np.isfinite(t)
        assert hit.sum() > 100
        step = 2e-4 / np.linalg.norm(dirs, axis=1)
        after = origins + (t + step)[:, None] * dirs
        before = origins + (t - step)[:, None] * dirs
        assert solid.contains(after[hit]).mean() > 0.97
        assert not solid.contains(before[hit]).any()


def test_normals_point_outwards() -> None:
    sphere = Solid((ellipsoid([0, 0, 0], [1.0, 1.0, 1.0]),))
    p = RNG.normal(size=(50, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    np.testing.assert_allclose(sphere.normal_at(p), p, atol=1e-9)
    cube = Solid((box([0, 0, 0], [2.0, 2.0, 2.0]),))
    n = cube.normal_at(np.array([[1.0, 0.2, -0.3], [0.1, -1.0, 0.5], [0.0, 0.3, 1.0]]))
    np.testing.assert_allclose(n, [[1, 0, 0], [0, -1, 0], [0, 0, 1]], atol=1e-9)


def test_zbuffer_keeps_the_nearest_surface() -> None:
    K = kinect_intrinsics(160, 120)
    cam = PinholeCamera("c", K, look_at([0, 0, 0], [1.0, 0, 0]), 160, 120)
    mat = fixed_material((200, 200, 200))
    front = RenderItem(Solid((ellipsoid([2.0, 0, 0], [0.3, 0.3, 0.3]),)), mat, 1, 0)
    back = RenderItem(Solid((box([4.0, 0, 0], [0.2, 3.0, 3.0]),)), mat, 2, 0)
    for items in ([front, back], [back, front]):
        hits = cast(cam, items)
        centre = 60 * 160 + 80
        assert hits.item[centre] >= 0 and items[hits.item[centre]].instance == 1
        assert hits.t[centre] == pytest.approx(1.7, abs=2e-3)
        corner = 40 * 160 + 40  # off the sphere, on the wall
        assert hits.item[corner] >= 0 and items[hits.item[corner]].instance == 2
        assert hits.t[corner] == pytest.approx(3.9, abs=1e-3)


def test_camera_projection_round_trip() -> None:
    K = kinect_intrinsics()
    pose = look_at([0.0, 0.2, 1.4], [0.9, 0.0, 0.75])
    cam = PinholeCamera("c", K, pose)
    u, v, z = cam.project(np.array([[0.9, 0.0, 0.75]]))
    assert (u[0], v[0]) == pytest.approx((319.5, 239.5), abs=1e-6)
    depth = np.full((480, 640), 1.5, dtype=np.float32)
    world = backproject(depth, K, pose)
    u, v, z = cam.project(world.reshape(-1, 3))
    grid_v, grid_u = np.mgrid[0:480, 0:640]
    np.testing.assert_allclose(u, grid_u.ravel(), atol=1e-6)
    np.testing.assert_allclose(v, grid_v.ravel(), atol=1e-6)
    np.testing.assert_allclose(z, 1.5, atol=1e-6)


def test_blas_free_products_match_numpy() -> None:
    p = RNG.normal(size=(1000, 3))
    m = RNG.normal(size=(3, 3))
    np.testing.assert_allclose(mat3(p, m), p @ m, atol=1e-12)
    np.testing.assert_allclose(dot3(p, m[0]), p @ m[0], atol=1e-12)


def test_voxel_thinning_matches_numpy_unique_rows() -> None:
    p = RNG.uniform(-1, 1, (5000, 3))
    keep = voxel_first(p, 0.1)
    _, first = np.unique(np.floor(p / 0.1).astype(int), axis=0, return_index=True)
    np.testing.assert_array_equal(keep, np.sort(first))
    with pytest.raises(ValueError, match="voxel size"):
        voxel_first(p, 0.0)


def test_bad_primitive_is_refused() -> None:
    with pytest.raises(ValueError, match="half_size"):
        Primitive("box", np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        Primitive("torus", np.zeros(3), np.ones(3))
