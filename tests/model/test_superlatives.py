import numpy as np
import pytest

from query3d.config import DecisionConfig
from query3d.model.encoders.superlatives import superlative_of
from query3d.model.postprocess import decode


@pytest.mark.parametrize(("text", "measure"), [
    ("the box on the left", "left"),
    ("the leftmost mug", "left"),
    ("the object on the far right", "right"),
    ("the object furthest to the right", "right"),  # a side, not a distance
    ("the right one", "right"),
    ("the box nearest to the camera", "near"),  # the viewer is no anchor
    ("the cereal packet that's closest to you", "near"),
    ("the box in front", "near"),
    ("whichever box is farther away from you", "far"),
    ("the box at the back", "far"),
    ("the tallest object", "high"),
    ("the box at the top of the stack", "high"),
    ("the object on top", "high"),
    ("the carton that sticks up highest", "high"),
    ("the box lying lowest, directly on the table", "low"),  # the table is the anchor
    ("the flattest object", "low"),
    ("the biggest box", "big"),
    ("the smaller tin", "small"),
    ("the red box", None),
    ("the box with the green top", None),  # a lid, not a place
    ("the object in front of the yellow pot", None),  # placed against an anchor
    ("the mug to the left of the box", None),
    ("the box lying on top of the yellow box", None),
    ("what's right at the back of the row?", None),  # "right" as in "just"
    ("the wider box at the bottom", None),  # two measures: no ranking
])
def test_superlative_of_reads_the_targets_measure(text: str, measure: str | None) -> None:
    assert superlative_of(text) == measure


def _three_boxes() -> tuple[dict, dict]:
    """Three objects of 10 points each, centred at y = -0.3, 0 and +0.3 (the middle one
    also the tallest), slot scores 0.8 (middle), 0.5 (left, +y), 0.1 (right)."""
    rng = np.random.default_rng(0)
    xyz = np.concatenate([rng.normal([0.6, y, h], 0.01, size=(10, 3))
                          for y, h in ((-0.3, 0.05), (0.0, 0.2), (0.3, 0.05))])
    masks = np.full((3, 30), -5.0)
    for k in range(3):
        masks[k, 10 * k:10 * (k + 1)] = 5.0
    logit = np.log(np.array([0.1, 0.8, 0.5]) / (1 - np.array([0.1, 0.8, 0.5])))
    raw = {"box_center": np.zeros((3, 3)), "box_size": np.ones((3, 3)),
           "box_yaw": np.zeros(3), "ref_logit": logit, "class_logits": np.zeros((3, 2)),
           "mask_logits": masks}
    return raw, {"xyz": xyz.astype(np.float32), "origin": np.zeros(3)}


@pytest.mark.parametrize(("text", "share", "first_point", "score"), [
    ("the box on the left", 0.5, 20, 0.8),  # the left one takes the best score
    ("the box on the left", 1.0, 10, 0.8),  # off: the scorer's order
    ("the box on the right", 0.5, 10, 0.8),  # the right one scores under half the best
    ("the box on the right", 0.1, 0, 0.8),
    ("the tallest box", 0.1, 10, 0.8),
    ("the red box", 0.1, 10, 0.8),  # no measure, no ranking
    ("all the boxes on the left", 0.1, 10, 0.8),  # plural: every fired target stays
])
def test_decode_answers_a_superlative_with_the_extreme_candidate(
        text: str, share: float, first_point: int, score: float) -> None:
    raw, frame = _three_boxes()
    result = decode(raw, frame, DecisionConfig(score_threshold=0.3, superlative_share=share),
                    text)
    assert int(result.targets[0].point_indices.min()) == first_point
    assert result.targets[0].score == pytest.approx(score)


def test_a_superlative_fires_only_when_the_best_slot_would() -> None:
    raw, frame = _three_boxes()
    cfg = DecisionConfig(score_threshold=0.85, superlative_share=0.1)
    assert decode(raw, frame, cfg, "the box on the left").no_target


@pytest.mark.parametrize(("text", "lower", "fires"), [
    ("the box on the left", 0.4, True),  # presupposed: fires above the lower threshold
    ("the box on the left", 1.0, False),  # 1: never lower
    ("the box on the left", 0.9, False),  # never above score_threshold
    ("the red box", 0.4, False),  # no measure: the score threshold
    ("all the boxes on the left", 0.4, False),  # plural: no ranking, no lower threshold
])
def test_a_superlative_fires_above_its_own_lower_threshold(text: str, lower: float,
                                                           fires: bool) -> None:
    raw, frame = _three_boxes()
    cfg = DecisionConfig(score_threshold=0.85, superlative_share=0.1,
                         superlative_threshold=lower)
    result = decode(raw, frame, cfg, text)
    assert result.no_target != fires
    if fires:  # the leftmost box, at the best slot's score
        assert int(result.targets[0].point_indices.min()) == 20
        assert result.targets[0].score == pytest.approx(0.8)


@pytest.mark.parametrize("name", ["superlative_share", "superlative_threshold"])
def test_superlative_settings_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        DecisionConfig(**{name: 1.5})


def test_the_bundled_network_answers_the_cup_at_the_named_end() -> None:
    """On the demo scene the scorer alone answers "the cup on the right" with the leftmost
    cup; through Segmenter (the checkpoint's superlative_share) each end gets its cup."""
    from query3d import Segmenter
    from query3d.bundled import DEMO_SCENE_DIR, demo_checkpoint
    from query3d.data.readers.scene_folder import SceneSplit, read_scene_dir

    split = SceneSplit(DEMO_SCENE_DIR, None)
    scene_id = split.scene_ids[0]
    scene = read_scene_dir(split.scene_dir(scene_id), scene_id, split.class_names)
    segmenter = Segmenter(demo_checkpoint())

    def ask(text: str, **kw: float) -> list:
        return segmenter.segment(scene.points, scene.colors, cameras=scene.cameras,
                                 text=text, **kw).targets

    cups_y = [t.box_center[1] for t in ask("pick up the four cups")]
    assert len(cups_y) >= 3
    for text, end in (("the cup on the right", min(cups_y)),
                      ("the cup on the left", max(cups_y))):
        (answer,) = ask(text)
        assert abs(answer.box_center[1] - end) < 0.05, text
