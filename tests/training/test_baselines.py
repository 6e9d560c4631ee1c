"""The trivial baselines every accuracy number is read against, on hand-made scenes whose
right numbers are known."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.data.sample import ObjectBox, Query, Sample, Scene
from query3d.training.evaluation.baselines import (
    BASELINES,
    baseline_predictor,
    baseline_predictors,
    candidate_objects,
)
from query3d.training.evaluation.evaluate import evaluate_all


def _scene() -> Scene:
    # table 0 (60 points, the support), mug 1 (10 points), box 2 (30 points), 5 unlabelled
    instance = np.array([0] * 60 + [1] * 10 + [2] * 30 + [-1] * 5)
    points = np.random.default_rng(0).normal(size=(len(instance), 3)).astype(np.float32)
    objects = [ObjectBox(0, "table", np.zeros(3), np.ones(3)),
               ObjectBox(1, "mug", np.array([0.1, 0.0, 0.1]), np.full(3, 0.1)),
               ObjectBox(2, "box", np.array([-0.2, 0.0, 0.1]), np.full(3, 0.2))]
    return Scene("s0", points, instance=instance, objects=objects)


SCENE = _scene()
SAMPLES = [Sample(SCENE, Query("the mug", [1], "a", "st")),
           Sample(SCENE, Query("the box", [2], "b", "st")),
           Sample(SCENE, Query("the mug and the box", [1, 2], "c", "mt")),
           Sample(SCENE, Query("the laptop", [], "d", "zt"))]


def test_the_support_table_is_not_an_object() -> None:
    assert [i for i, _ in candidate_objects(SCENE)] == [1, 2]


def test_each_baseline_scores_what_it_selects() -> None:
    out = evaluate_all(baseline_predictors(), SAMPLES, progress=False)
    assert set(out) == set(BASELINES)
    # nothing: only the zero-target query is right
    assert out["nothing"]["miou"] == pytest.approx(0.25)
    assert out["nothing"]["zero_target_accuracy"] == 1.0
    # every object: the mug and the box; IoU 10/40, 30/40, 1, and 0 for the absent laptop
    assert out["every_object"]["miou"] == pytest.approx((0.25 + 0.75 + 1.0 + 0.0) / 4)
    # largest object: the box (the table is the support); 0, 1, 30/40, 0
    assert out["largest_object"]["miou"] == pytest.approx((0.0 + 1.0 + 0.75 + 0.0) / 4)
    assert out["largest_object"]["box_acc@0.25"] > 0  # its boxes are the true boxes


def test_the_random_baseline_is_seeded_per_sample() -> None:
    pick = baseline_predictor("random_object", seed=3)
    first = [pick(s).targets[0].point_indices.tolist() for s in SAMPLES]
    assert first == [pick(s).targets[0].point_indices.tolist() for s in SAMPLES]
    seeds = {tuple(baseline_predictor("random_object", seed=k)(SAMPLES[0]).targets[0]
                   .point_indices[:1]) for k in range(20)}
    assert len(seeds) == 2  # both objects get picked across seeds
    with pytest.raises(ValueError, match="baseline 'oracle'"):
        baseline_predictor("oracle")



def test_the_text_control_asks_another_sentence_and_scores_the_true_targets() -> None:
    from query3d.training.evaluation.baselines import other_text_predictor

    asked = []

    def network(sample):  # answers "the mug" with the mug, anything else with the box
        asked.append(sample.query.text)
        wanted = 1 if sample.query.text == "the mug" else 2
        result = baseline_predictor("every_object")(sample)
        ids = [i for i, _ in candidate_objects(sample.scene)]
        result.targets = [t for t, i in zip(result.targets, ids) if i == wanted]
        return result

    control = other_text_predictor(network, [s.query.text for s in SAMPLES])
    result = control(SAMPLES[0])  # "the mug", asked something else: answers the box
    assert asked[-1] != "the mug" and result.text == "the mug"
    out = evaluate_all({"net": network, "control": control}, SAMPLES[:1], progress=False)
    assert out["net"]["miou"] == 1.0 and out["control"]["miou"] == 0.0
    with pytest.raises(ValueError, match="two different sentences"):
        other_text_predictor(network, ["the mug", "the mug"])
