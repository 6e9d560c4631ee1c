"""Augmentations that remove points: dropout and cropping. Neither ever removes a target
entirely, and a crop keeps every object the query may be talking about."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Literal

import numpy as np

from query3d.data.sample import Sample, Scene
from query3d.training.data.augment.language import is_relational, mentioned_objects


def take_points(scene: Scene, keep: np.ndarray) -> Scene:
    """The scene restricted to ``keep`` (boolean mask or indices). Every per-point array
    field is cut the same way, so a field added to ``Scene`` later is not left behind;
    boxes of objects left without points are dropped."""
    n = len(scene.points)
    changes = {}
    for spec in dataclasses.fields(scene):
        value = getattr(scene, spec.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            changes[spec.name] = value[keep]
    if scene.instance is not None:
        present = set(np.unique(changes["instance"]).tolist())
        changes["objects"] = [o for o in scene.objects if o.object_id in present]
    return dataclasses.replace(scene, **changes)


def point_dropout(sample: Sample, rng: np.random.Generator, fraction: float,
                  targets: Iterable[int] | None = None) -> Sample:
    """Drop each point with probability ``fraction``; a target that would lose all its
    points keeps them all (a tiny object must not turn a query into a zero-target one).
    ``targets``: the objects to keep that way (default: the query's; a scene shared by
    several queries passes all of theirs)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"dropout fraction must be in [0, 1), got {fraction}")
    keep = rng.random(len(sample.scene.points)) >= fraction
    if sample.scene.instance is not None:
        for object_id in (sample.query.object_ids if targets is None else targets):
            members = sample.scene.instance == object_id
            if members.any() and not keep[members].any():
                keep[members] = True
    return dataclasses.replace(sample, scene=take_points(sample.scene, keep))


def protected_objects(sample: Sample) -> set[int] | None:
    """Objects a crop must keep whole: the targets, and for a relational query every
    object of a category it names (its possible anchors). None: unsafe to crop."""
    targets = set(sample.query.object_ids)
    if not is_relational(sample.query):
        return targets
    anchors = mentioned_objects(sample)
    return None if anchors is None else targets | anchors


def crop(sample: Sample, rng: np.random.Generator, size: float,
         protected: set[int] | None | Literal["query"] = "query") -> Sample:
    """Keep an axis-aligned ``size`` x ``size`` metre window in xy (all heights).

    The window is centred on a random point, then moved (or widened) just enough to
    contain every protected object whole. Unsafe queries, scenes without instance
    labels holding targets, and scenes already smaller than the window are returned as
    they are. ``protected``: the objects to keep whole (default: the query's, see
    :func:`protected_objects`; None: do not crop)."""
    if not size > 0:
        raise ValueError(f"crop size must be positive, got {size}")
    scene = sample.scene
    finite = np.isfinite(scene.points).all(axis=1)
    xy = scene.points[:, :2].astype(np.float64)
    if not finite.any() or np.all(np.ptp(xy[finite], axis=0) <= size):
        return sample
    if protected == "query":
        protected = protected_objects(sample)
    if protected is None or (protected and scene.instance is None):
        return sample
    half = np.full(2, size / 2)
    centre = xy[rng.choice(np.flatnonzero(finite))]
    if protected and scene.instance is not None:
        members = np.isin(scene.instance, list(protected)) & finite
        if members.any():
            lo, hi = xy[members].min(axis=0), xy[members].max(axis=0)
            half = np.maximum(half, (hi - lo) / 2)  # widen if they do not fit
            centre = np.clip(centre, hi - half, lo + half)  # window covers [lo, hi]
    inside = np.all(np.abs(xy - centre) <= half, axis=1) & finite
    if not inside.any():
        return sample
    return dataclasses.replace(sample, scene=take_points(scene, inside))


def target_point_counts(sample: Sample) -> dict[int, int]:
    """Points per target, for checks that no augmentation emptied one."""
    if sample.scene.instance is None:
        return {}
    return {t: int(np.sum(sample.scene.instance == t)) for t in sample.query.object_ids}
