"""data.mix: further splits trained on beside the main one."""

from __future__ import annotations

import pytest


def test_mixed_samples_repeat_each_source() -> None:
    from query3d.training.trainer.run import MixedSamples

    class Named(list):
        class_names = ["box"]

    mixed = MixedSamples([(Named(["a", "b"]), 1), (["x"], 3)])
    assert len(mixed) == 5 and [mixed[i] for i in range(5)] == ["a", "b", "x", "x", "x"]
    assert mixed.class_names == ["box"]
    with pytest.raises(IndexError):
        mixed[5]
