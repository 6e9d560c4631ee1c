"""Query semantics: relations, the unambiguity checker, templates and the sampler."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.data.sample import ObjectBox
from query3d.training.data.synthetic.queries.facts import FactObject, SceneFacts
from query3d.training.data.synthetic.queries.program import (
    AmbiguousQuery,
    Descriptor,
    Program,
    check_query,
    denote,
)
from query3d.training.data.synthetic.queries.sampler import sample_queries
from query3d.training.data.synthetic.queries.templates import realise, template_count


def _obj(oid, category, color, x, y, size=(0.08, 0.08, 0.1), z=0.75, support=None,
         points=500) -> FactObject:
    box = ObjectBox(oid, category, np.array([x, y, z + size[2] / 2]), np.array(size), 0.0,
                    color)
    return FactObject(oid, category, color, box, support=support, num_points=points)


def _facts(objects, camera=(0.0, 0.0, 1.4)) -> SceneFacts:
    return SceneFacts(objects, np.array(camera), 1.0, "tabletop",
                      {o.category for o in objects} | {"table"})


@pytest.fixture
def scene() -> SceneFacts:
    return _facts([
        _obj(1, "mug", "red", 0.8, 0.30),
        _obj(2, "mug", "blue", 0.8, -0.30),
        _obj(3, "laptop", "grey", 0.85, 0.0, size=(0.3, 0.22, 0.2)),
        _obj(4, "box", "brown", 1.1, 0.3, size=(0.2, 0.15, 0.1)),
        _obj(5, "book", "green", 1.1, 0.3, size=(0.15, 0.1, 0.03), z=0.85, support=4),
    ])


def test_checker_accepts_exact_and_rejects_ambiguous_descriptions(scene) -> None:
    check_query(Program(Descriptor("mug", "red")), [1], scene)
    with pytest.raises(AmbiguousQuery, match="singular"):
        check_query(Program(Descriptor("mug")), [1], scene)  # two mugs: which one?
    with pytest.raises(ValueError, match="denotes"):
        check_query(Program(Descriptor("mug", "red")), [2], scene)  # wrong object
    check_query(Program(Descriptor("mug"), "all"), [1, 2], scene)
    with pytest.raises(AmbiguousQuery, match="plural"):
        check_query(Program(Descriptor("laptop"), "all"), [3], scene)


def test_relations_pick_by_geometry(scene) -> None:
    left = Descriptor("mug", relation="left", anchors=(Descriptor("laptop"),))
    right = Descriptor("mug", relation="right", anchors=(Descriptor("laptop"),))
    assert denote(left, scene) == ({1}, set())  # +y is the robot's left
    assert denote(right, scene) == ({2}, set())
    on_box = Descriptor("book", relation="on", anchors=(Descriptor("box"),))
    assert denote(on_box, scene) == ({5}, set())
    between = Descriptor(relation="between", anchors=(Descriptor("mug", "red"),
                                                      Descriptor("mug", "blue")))
    assert denote(between, scene)[0] == {3}


def test_borderline_relation_is_rejected_as_ambiguous() -> None:
    # A mug 3 cm left of the laptop: neither clearly left of it nor clearly not.
    facts = _facts([_obj(1, "mug", "red", 0.8, 0.03), _obj(2, "laptop", "grey", 0.8, 0.0)])
    prog = Program(Descriptor("mug", relation="left", anchors=(Descriptor("laptop"),)))
    with pytest.raises(AmbiguousQuery, match="may or may not"):
        check_query(prog, [1], facts)


def test_ambiguous_anchor_and_unclear_superlative_are_rejected(scene) -> None:
    prog = Program(Descriptor("laptop", relation="next_to", anchors=(Descriptor("mug"),)))
    with pytest.raises(AmbiguousQuery, match="anchor"):
        check_query(prog, [3], scene)
    twins = _facts([_obj(1, "box", "red", 0.8, 0.2), _obj(2, "box", "blue", 0.8, -0.2)])
    with pytest.raises(AmbiguousQuery, match="not clear"):
        denote(Descriptor("box", superlative="largest"), twins)


def test_zero_target_needs_true_absence(scene) -> None:
    check_query(Program(Descriptor("vase")), [], scene)
    check_query(Program(Descriptor("mug", "green")), [], scene)
    with pytest.raises(ValueError):
        check_query(Program(Descriptor("mug")), [], scene)
    # Hidden objects still exist: "the vase" is not zero-target if a vase is occluded.
    hidden = _facts([_obj(1, "vase", "red", 0.9, 0.0, points=3)])
    with pytest.raises(ValueError):
        check_query(Program(Descriptor("vase")), [], hidden)
    with pytest.raises(AmbiguousQuery, match="not visible"):
        check_query(Program(Descriptor("vase")), [1], hidden)


def test_superlatives_and_camera_distance(scene) -> None:
    assert denote(Descriptor(superlative="largest"), scene)[0] == {3}
    assert denote(Descriptor("mug", superlative="leftmost"), scene)[0] == {1}
    near_right = _facts(scene.objects, camera=(0.0, -0.6, 1.4))
    assert denote(Descriptor("mug", superlative="nearest"), near_right)[0] == {2}


def test_at_least_fifty_templates_and_faithful_wording(scene) -> None:
    assert template_count() >= 50
    rng = np.random.default_rng(0)
    texts = {realise(Program(Descriptor("mug", "red", relation="left",
                                        anchors=(Descriptor("laptop"),))), rng)
             for _ in range(40)}
    assert len(texts) > 10  # paraphrases
    for t in texts:
        assert "red mug" in t and "left" in t and "laptop" in t
    plural = realise(Program(Descriptor(color="red"), "all"), rng, count=5)
    assert "red" in plural and ("all" in plural or "every" in plural)
    instr = realise(Program(Descriptor(function="drink")), rng)
    assert "drink" in instr or "pour" in instr
    left = {realise(Program(Descriptor("box", superlative="leftmost")), rng) for _ in range(30)}
    assert any("leftmost box" in t for t in left) and any("box on the left" in t for t in left)
    assert all(t.count("left") == 1 for t in left)  # one form, never both
    hand = {realise(Program(Descriptor(function="store", superlative="rightmost")), rng)
            for _ in range(30)}
    assert all(t.count("right") == 1 for t in hand)


def test_sampler_output_passes_its_own_checker(scene) -> None:
    rng = np.random.default_rng(3)
    records = sample_queries(scene, rng, "s0", count=25)
    assert len(records) >= 10
    kinds = {r["kind"] for r in records}
    assert {"zero", "relation"} <= kinds
    for r in records:
        prog = Program.from_json(r["program"])
        check_query(prog, r["object_ids"], scene)
        expected = {0: "zt", 1: "st"}.get(len(r["object_ids"]), "mt")
        assert r["eval_type"] == expected
    assert len({r["description"] for r in records}) == len(records)
