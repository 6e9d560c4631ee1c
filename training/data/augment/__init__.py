"""Training augmentations that keep labels, boxes, cameras and queries consistent.

``augment(sample, rng, config)`` applies, in this order: crop, point dropout, rotation
about z, uniform scaling, jitter, colour jitter. Determinism: the same sample, config
and generator state give the same result.

View-dependent queries (left/right, in front/behind, nearest to the camera, ...): the
synthetic benchmark defines these from the robot base frame and ScanRefer from an
unrecorded viewpoint, so by default (``view_dependent="skip"``) such samples are not
rotated: turning the cloud would move "left" while the words stay. With
``view_dependent="rotate_camera"`` they are rotated together with their cameras, which
keeps the relation true in every camera's view; use it for models that read relations
from the camera pose. Without cameras the rotation is skipped under either policy.
Scaling is uniform and colour jitter keeps hue, so size and colour words stay true.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from query3d.config import AugmentConfig
from query3d.data.sample import Sample
from query3d.training.data.augment.language import (
    is_relational,
    is_view_dependent,
    mentioned_objects,
)
from query3d.training.data.augment.subset import (
    crop,
    point_dropout,
    protected_objects,
    take_points,
    target_point_counts,
)
from query3d.training.data.augment.transforms import (
    color_jitter,
    copy_sample,
    jitter,
    rotate_z,
    scale,
    scene_pivot,
)


def may_rotate(sample: Sample, policy: str) -> bool:
    if not is_view_dependent(sample.query):
        return True
    return policy == "rotate_camera" and bool(sample.scene.cameras)


def augment(sample: Sample, rng: np.random.Generator,
            config: AugmentConfig | None = None) -> Sample:
    """A freshly allocated augmented copy of ``sample`` (the input is never modified)."""
    return augment_scene([sample], rng, config)[0]


def augment_scene(samples: Sequence[Sample], rng: np.random.Generator,
                  config: AugmentConfig | None = None) -> list[Sample]:
    """One augmentation of a scene shared by several queries (``samples``, all of one
    scene), kept true for every one of them: the crop keeps every query's protected
    objects, dropout every query's targets, and the scene turns only if no query is
    view-dependent. Returns each query on the same augmented scene, in order."""
    if not samples:
        raise ValueError("augment_scene needs at least one sample")
    config = config or AugmentConfig()
    out = copy_sample(samples[0])
    if config.enabled:
        if config.crop_size:
            kept = [protected_objects(s) for s in samples]
            protected = None if any(k is None for k in kept) else set().union(*kept)
            out = crop(out, rng, config.crop_size, protected)
        if config.point_dropout > 0:
            targets = sorted({t for s in samples for t in s.query.object_ids})
            out = point_dropout(out, rng, config.point_dropout, targets)
        pivot = scene_pivot(out.scene)
        if config.rotate_z and all(may_rotate(s, config.view_dependent) for s in samples):
            out = rotate_z(out, rng.uniform(-config.max_angle, config.max_angle), pivot)
        if config.scale_range > 0:
            out = scale(out, rng.uniform(1 - config.scale_range, 1 + config.scale_range), pivot)
        if config.jitter_sigma > 0:
            out = jitter(out, rng, config.jitter_sigma, config.jitter_clip)
        if config.color_jitter > 0:
            out = color_jitter(out, rng, config.color_jitter)
    return [Sample(out.scene, s.query) for s in samples]


__all__ = [
    "AugmentConfig", "augment", "augment_scene", "color_jitter", "copy_sample", "crop",
    "is_relational",
    "is_view_dependent", "jitter", "may_rotate", "mentioned_objects", "point_dropout",
    "protected_objects", "rotate_z", "scale", "scene_pivot", "take_points",
    "target_point_counts",
]
