"""QueryResult: instance masks resolve overlaps by score; summaries are JSON-ready."""

from __future__ import annotations

import json

import numpy as np

from query3d.model.output import QueryResult, TargetResult


def _target(tid: int, idx: list[int], score: float) -> TargetResult:
    return TargetResult(tid, np.array(idx), np.full(len(idx), score, np.float32),
                        np.zeros(3), np.ones(3), 0.0, 0.9, "box")


def test_overlapping_targets_keep_higher_point_score() -> None:
    result = QueryResult("all the boxes", 6, [_target(0, [0, 1, 2], 0.6),
                                              _target(1, [2, 3], 0.9)])
    assert result.instance_mask().tolist() == [0, 0, 1, 1, -1, -1]
    assert result.union_mask().sum() == 4
    assert not result.no_target


def test_zero_target_result() -> None:
    result = QueryResult("a giraffe", 4)
    assert result.no_target
    assert (result.instance_mask() == -1).all()


def test_summary_is_json_serialisable() -> None:
    result = QueryResult("the box", 6, [_target(0, [0, 1], 0.7)], {"network": 12.5})
    data = json.loads(json.dumps(result.summary()))
    assert data["targets"][0]["num_points"] == 2
    assert data["timings_ms"]["network"] == 12.5 and data["no_target"] is False
