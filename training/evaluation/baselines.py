"""Trivial answers to every query, scored exactly like the network on the same samples.

An accuracy number means something only above these: select nothing, every object, the
largest object, or a random object (seeded per sample, so a rerun gives the same number).
"Objects" are the scene's labelled instances that are not its support: floors, walls and
the largest table of a scene (what a tabletop scene stands on) are left out, which makes
the baselines stronger, never weaker. A baseline's boxes are the chosen objects' true
boxes, so its box accuracy is an upper bound for answering with those objects.

The text control (``other_text_predictor``) is the network itself asked another query's
sentence on the same scene: it tells whether the answers depend on the words at all.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from query3d.data.sample import Sample, Scene
from query3d.model.output import QueryResult, TargetResult
from query3d.training.evaluation.evaluate import Predictor

BASELINES = ("nothing", "every_object", "largest_object", "random_object")
SUPPORT_CATEGORIES = ("floor", "wall")


def candidate_objects(scene: Scene) -> list[tuple[int, np.ndarray]]:
    """(object id, its point indices) for every non-support instance with points."""
    if scene.instance is None:
        return []
    ids, counts = np.unique(scene.instance[scene.instance >= 0], return_counts=True)
    category = {o.object_id: o.category for o in scene.objects}
    support = {int(i) for i in ids if category.get(int(i)) in SUPPORT_CATEGORIES}
    tables = [(c, int(i)) for i, c in zip(ids, counts) if category.get(int(i)) == "table"]
    if tables:
        support.add(max(tables)[1])
    return [(int(i), np.flatnonzero(scene.instance == i)) for i in ids if int(i) not in support]


def _result(sample: Sample, chosen: list[tuple[int, np.ndarray]]) -> QueryResult:
    scene, targets = sample.scene, []
    known = {o.object_id: o for o in scene.objects}
    for rank, (object_id, index) in enumerate(chosen):
        obj = known.get(object_id)
        if obj is not None:
            center, size, yaw, label = obj.center, obj.size, obj.yaw, obj.category
        else:  # a reader without boxes: the points' axis-aligned extent
            lo, hi = scene.points[index].min(0), scene.points[index].max(0)
            center, size, yaw, label = (lo + hi) / 2, hi - lo, 0.0, ""
        targets.append(TargetResult(rank, index.astype(np.int64), np.ones(len(index), np.float32),
                                    np.asarray(center, np.float64), np.asarray(size, np.float64),
                                    float(yaw), 1.0, label))
    return QueryResult(sample.query.text, len(scene.points), targets)


def _sample_seed(sample: Sample, seed: int) -> int:
    key = f"{seed}/{sample.scene.scene_id}/{sample.query.ann_id}/{sample.query.text}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


def baseline_predictor(name: str, seed: int = 0) -> Predictor:
    """The ``Sample -> QueryResult`` function of one trivial baseline."""
    if name not in BASELINES:
        raise ValueError(f"baseline {name!r}; choose one of {', '.join(BASELINES)}")

    def predict(sample: Sample) -> QueryResult:
        objects = candidate_objects(sample.scene)
        if name == "nothing" or not objects:
            return _result(sample, [])
        if name == "every_object":
            return _result(sample, objects)
        if name == "largest_object":
            return _result(sample, [max(objects, key=lambda o: len(o[1]))])
        rng = np.random.default_rng(_sample_seed(sample, seed))
        return _result(sample, [objects[int(rng.integers(len(objects)))]])

    return predict


def baseline_predictors(seed: int = 0) -> dict[str, Predictor]:
    return {name: baseline_predictor(name, seed) for name in BASELINES}


def other_text_predictor(predict: Predictor, texts: list[str], seed: int = 0) -> Predictor:
    """The network asked another query's sentence (seeded per sample) on the same scene,
    scored against the true targets: as good as the real answer means the network
    answers "an object", not the one the sentence names."""
    pool = sorted(set(texts))
    if len(pool) < 2:
        raise ValueError("the text control needs at least two different sentences")

    def predict_other(sample: Sample) -> QueryResult:
        rng = np.random.default_rng(_sample_seed(sample, seed))
        text = sample.query.text
        while text == sample.query.text:
            text = pool[int(rng.integers(len(pool)))]
        asked = Sample(sample.scene, dataclasses.replace(sample.query, text=text))
        result = predict(asked)
        result.text = sample.query.text
        return result

    return predict_other
