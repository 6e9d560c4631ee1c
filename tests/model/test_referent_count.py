import numpy as np
import pytest

from query3d.config import DecisionConfig
from query3d.model.encoders.referent_count import referent_limit
from query3d.model.postprocess import decode


@pytest.mark.parametrize(("text", "limit"), [
    ("the black mug", 1),
    ("the black mug, please", 1),
    ("the mug left of the boxes", 1),  # the anchor's plural is not the target's
    ("can you get me something to drink from, the one on the right?", 1),
    ("give me one of the cans", 1),
    ("the orange and white muesli box", 1),  # colours joined by "and": one object
    ("the Kellogg's box", 1),
    ("the glass", 1),
    ("the two mugs", 2),
    ("which of the two boxes is taller?", 1),  # one picked from the two
    ("which is the shorter of the two boxes?", 1),
    ("which one of the cans is open?", 1),
    ("both cans", 2),
    ("show me the three plates", 3),
    ("the 4 boxes", 4),
    ("all the mugs", None),
    ("segment every one of the vases", None),
    ("the mugs", None),
    ("where are the boxes behind the laptop?", None),
    ("something to drink from", None),
    ("give me everything on the table", None),
    ("I want some cereal", None),
    ("the yellow can and the dark can", None),
])
def test_referent_limit_reads_the_targets_grammatical_number(text: str, limit: int | None
                                                             ) -> None:
    assert referent_limit(text) == limit


def _three_objects() -> tuple[dict, dict]:
    n = 30
    xyz = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    masks = np.full((3, n), -5.0)
    for k in range(3):
        masks[k, 10 * k:10 * (k + 1)] = 5.0
    raw = {"box_center": np.zeros((3, 3)), "box_size": np.ones((3, 3)), "box_yaw": np.zeros(3),
           "ref_logit": np.array([1.0, 3.0, 2.0]), "class_logits": np.zeros((3, 2)),
           "mask_logits": masks}
    return raw, {"xyz": xyz, "origin": np.zeros(3)}


@pytest.mark.parametrize(("text", "expected"), [
    ("the mug", [[10, 20]]),  # the best slot only
    ("the two mugs", [[10, 20], [20, 30]]),
    ("all the mugs", [[10, 20], [20, 30], [0, 10]]),
    ("the mugs", [[10, 20], [20, 30], [0, 10]]),
])
def test_decode_keeps_as_many_targets_as_the_command_allows(text: str, expected: list) -> None:
    raw, frame = _three_objects()
    result = decode(raw, frame, DecisionConfig(score_threshold=0.5), text)
    spans = [[int(t.point_indices.min()), int(t.point_indices.max()) + 1] for t in result.targets]
    assert spans == expected


def test_the_limit_can_be_turned_off() -> None:
    raw, frame = _three_objects()
    cfg = DecisionConfig(score_threshold=0.5, limit_by_grammar=False)
    assert len(decode(raw, frame, cfg, "the mug").targets) == 3


def test_the_bundled_network_answers_a_singular_command_once() -> None:
    """On the demo scene "a cup" fires on several cups; the answer is the best of them,
    and the node's ``limit_by_grammar: false`` gets them all back."""
    from query3d import Segmenter
    from query3d.bundled import DEMO_SCENE_DIR, demo_checkpoint
    from query3d.data.readers.scene_folder import SceneSplit, read_scene_dir

    split = SceneSplit(DEMO_SCENE_DIR, None)
    scene_id = split.scene_ids[0]
    scene = read_scene_dir(split.scene_dir(scene_id), scene_id, split.class_names)
    segmenter = Segmenter(demo_checkpoint())
    ask = dict(cameras=scene.cameras, text="a cup")
    every = segmenter.segment(scene.points, scene.colors, limit_by_grammar=False, **ask)
    best = segmenter.segment(scene.points, scene.colors, **ask)
    assert len(every.targets) >= 2
    assert len(best.targets) == 1
    assert best.targets[0].score == every.targets[0].score
    np.testing.assert_array_equal(best.targets[0].point_indices, every.targets[0].point_indices)


def _two_cups_in_one_mask() -> tuple[dict, dict]:
    """One slot's mask over two cups 20 cm apart (30 and 20 points) and 2 stray points."""
    rng = np.random.default_rng(1)
    xyz = np.concatenate([rng.normal([0, 0, 0], 0.01, (30, 3)),
                          rng.normal([0.2, 0, 0], 0.01, (20, 3)),
                          [[0.5, 0.5, 0.0], [0.55, 0.5, 0.0]]]).astype(np.float32)
    raw = {"box_center": np.zeros((1, 3)), "box_size": np.ones((1, 3)), "box_yaw": np.zeros(1),
           "ref_logit": np.array([3.0]), "class_logits": np.zeros((1, 2)),
           "mask_logits": np.full((1, len(xyz)), 5.0)}
    return raw, {"xyz": xyz, "origin": np.zeros(3)}


def test_split_apart_answers_each_piece_of_a_mask_where_several_answers_are_allowed() -> None:
    raw, frame = _two_cups_in_one_mask()
    cfg = DecisionConfig(score_threshold=0.5, split_gap=0.05)
    pieces = decode(raw, frame, cfg, "all the cups").targets
    assert [len(t.point_indices) for t in pieces] == [32, 20]  # the strays join the largest
    assert set(pieces[1].point_indices.tolist()) == set(range(30, 50))
    assert pieces[1].box_center[0] == pytest.approx(0.2, abs=0.02)
    assert len(decode(raw, frame, cfg, "the cup").targets) == 1  # one answer: not split
    assert len(decode(raw, frame, cfg, "the two cups").targets) == 2  # within the numeral
    assert len(decode(raw, frame, DecisionConfig(score_threshold=0.5), "all the cups")
               .targets) == 1  # split_gap 0: never
    with pytest.raises(ValueError, match="split_gap"):
        DecisionConfig(split_gap=-0.1)


def test_the_bundled_network_answers_each_cup_of_a_mask_over_two() -> None:
    """Split pieces keep every answered point: the same union, never fewer targets."""
    from query3d import Segmenter
    from query3d.bundled import DEMO_SCENE_DIR, demo_checkpoint
    from query3d.data.readers.scene_folder import SceneSplit, read_scene_dir

    split = SceneSplit(DEMO_SCENE_DIR, None)
    scene_id = split.scene_ids[0]
    scene = read_scene_dir(split.scene_dir(scene_id), scene_id, split.class_names)
    segmenter = Segmenter(demo_checkpoint())
    ask = dict(cameras=scene.cameras, text="pick up the four cups")
    whole = segmenter.segment(scene.points, scene.colors, split_gap=0.0, **ask)
    pieces = segmenter.segment(scene.points, scene.colors, split_gap=0.05, **ask)
    assert len(pieces.targets) >= len(whole.targets) >= 2
    np.testing.assert_array_equal(pieces.union_mask(), whole.union_mask())
    assert max(float(np.prod(t.box_size[:2])) for t in pieces.targets) <= \
        max(float(np.prod(t.box_size[:2])) for t in whole.targets)


@pytest.mark.parametrize("seed", range(6))
def test_gap_components_are_dbscans_single_linkage_pieces(seed: int) -> None:
    from sklearn.cluster import DBSCAN

    from query3d.model.postprocess import gap_components

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.3, 0.3, (int(rng.integers(1, 6)), 3))
    xyz = np.concatenate([rng.normal(c, rng.uniform(0.005, 0.03), (int(rng.integers(1, 200)), 3))
                          for c in centres]).astype(np.float32)
    xyz = xyz[rng.permutation(len(xyz))]
    for gap in (0.01, 0.03, 0.05):
        ours = gap_components(xyz, gap)
        theirs = DBSCAN(eps=gap, min_samples=1).fit_predict(xyz)
        np.testing.assert_array_equal(ours, theirs)
    assert gap_components(xyz[:1], 0.05).tolist() == [0]
