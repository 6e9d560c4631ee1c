"""A command split at its relation: target words, relation, anchor words."""

from __future__ import annotations

import pytest

from query3d.model.encoders.phrases import RELATIONS, Phrases, split_relation


@pytest.mark.parametrize("text, target, relation, anchor", [
    ("the box behind the red box", "the box", "behind", "the red box"),
    ("the mug to the left of the bowl", "the mug", "left", "the bowl"),
    ("which packet lies on the left side of the gittis box?", "which packet lies", "left",
     "the gittis box"),
    ("the can right next to the laptop", "the can", "next_to", "the laptop"),
    ("the box lying on top of the yellow box", "the box", "on", "the yellow box"),
    ("the box between the yellow box and the red box", "the box", "between",
     "the yellow box and the red box"),
    ("the box standing in front of the red box", "the box standing", "front", "the red box"),
    ("the cup closest to the laptop", "the cup", "next_to", "the laptop"),
    ("the bowl under the plate", "the bowl", "under", "the plate"),
    ("pick up the book leaning against the lamp", "pick up the book", "against", "the lamp"),
    ("could you take the muesli carton off the biscuit box?",
     "could you take the muesli carton", "on", "the biscuit box"),
])
def test_a_relation_splits_target_from_anchor(text: str, target: str, relation: str,
                                              anchor: str) -> None:
    assert split_relation(text) == Phrases(target, relation, anchor)


@pytest.mark.parametrize("text", [
    "the box on the left", "the object on top", "the box nearest to the camera",
    "the cereal packet that's closest to you", "the box in front", "the cup on the table",
    "something to drink from", "all the boxes", "on the left", "the can lying on its side",
    "the tin standing on its edge", "the object on the far left", "the mug off to the side",
    "the bottle nearest to the sensor, please"])
def test_where_the_target_lies_is_not_an_anchor(text: str) -> None:
    parts = split_relation(text)
    assert parts == Phrases(text, "none", "") and parts.relation_index == 0


def test_a_later_relation_is_used_when_the_first_has_no_anchor() -> None:
    # "on the left" names no object; "behind the mug" does
    assert split_relation("the box on the left behind the mug") == Phrases(
        "the box on the left", "behind", "the mug")
    assert RELATIONS[split_relation("the mug beside the bowl").relation_index] == "next_to"
