"""`query3d train --task semantic`, `query3d eval --task semantic` and `query3d segment
--classes` end to end on a tiny generated split, from the bundled checkpoint's encoders;
and `Segmenter.label` on the bundled checkpoint's own head."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_data import tiny_tabletop

from query3d.bundled import DEMO_CHECKPOINT, DEMO_SCENE_DIR
from query3d.cli import main
from query3d.model.checkpoint import load_checkpoint
from query3d.model.runtime.segmenter import Segmenter
from query3d.training.data.synthetic import SyntheticDataset
from query3d.training.semantic.run import WORD_TABLES
from query3d.training.semantic.scenes import NOVEL_SPLITS


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("semantic")
    tiny_tabletop(root / "data", {"train": (4, 0), "val": (2, 1)})
    out = root / "head.pt"
    code = main(["train", "--task", "semantic", "--from", str(DEMO_CHECKPOINT),
                 "--data", str(root / "data"), "--held-out", "A", "--steps", "40",
                 "--repeat", "tabletop=2", "--cache", str(root / "cache"), "--out", str(out),
                 "--json", str(root / "train.json")])
    assert code == 0
    return {"root": root, "data": root / "data", "head": out}


def test_the_head_is_added_to_the_checkpoint_and_nothing_else_changes(trained: dict) -> None:
    _, source = load_checkpoint(DEMO_CHECKPOINT)
    cfg, state = load_checkpoint(trained["head"])
    assert cfg.model.semantic_head
    semantic = state["extra"]["semantic"]
    assert not set(semantic["trained_names"]) & set(NOVEL_SPLITS["A"])
    assert semantic["held_out"] == list(NOVEL_SPLITS["A"])
    assert [(s["kind"], s["repeat"]) for s in semantic["sources"]] == [("tabletop", 2)]
    for key, value in source["model"].items():
        if not key.startswith("semantic."):
            assert torch.equal(state["model"][key], value), key
    assert any(k.startswith("semantic.") for k in state["model"])
    summary = json.loads((trained["root"] / "train.json").read_text())
    assert summary["scenes"] == 4 and summary["superpoints"] > 4


def test_eval_prints_base_novel_and_baselines(trained: dict, capsys) -> None:
    report = trained["root"] / "eval.json"
    code = main(["eval", "--task", "semantic", "--checkpoint", str(trained["head"]),
                 "--data", str(trained["data"]), "--split", "val", "--novel", "A",
                 "--json", str(report)])
    assert code == 0
    text = capsys.readouterr().out
    assert "hiou" in text and "most_frequent" in text and "cup *" in text
    summary = json.loads(report.read_text())
    assert summary["scenes"] == 2 and summary["novel"] == list(NOVEL_SPLITS["A"])
    for key in ("miou_base", "miou_novel", "hiou"):
        assert 0.0 <= summary["network"][key] <= 1.0
    # everything-is-the-table: its only non-zero IoU is the table's
    frequent = summary["most_frequent"]["iou_per_class"]
    assert frequent["table"] > 0.3 and all(v in (0.0, None) or v != v
                                           for k, v in frequent.items() if k != "table")


def test_segment_classes_writes_labels_picture_and_counts(trained: dict,
                                                         tmp_path: Path) -> None:
    data = SyntheticDataset(trained["data"], "val")
    scene = data.scene(data.scene_ids[0])
    points = scene.points.copy()
    points[:3] = np.nan  # a sensor's dropouts: the reader drops them, as for commands
    cloud = tmp_path / "scene.npz"
    np.savez(cloud, points=points, colors=scene.colors)
    out = tmp_path / "out"
    code = main(["segment", str(cloud), "--classes", "mug, bowl, table, teacup",
                 "--checkpoint", str(trained["head"]), "--backend", "torch",
                 "--frame", "as-is", "--out", str(out)])
    assert code == 0
    labels = np.load(out / "semantic.npy")
    summary = json.loads((out / "semantic.json").read_text())
    assert labels.shape == (len(points) - 3,)
    assert labels.min() >= 0 and labels.max() < 4
    assert summary["classes"] == ["mug", "bowl", "table", "teacup"]
    assert sum(summary["points_per_class"].values()) == len(points) - 3
    assert (out / "semantic.png").stat().st_size > 10_000
    # neither a text nor a list, or both: refused with a clear message
    assert main(["segment", str(cloud), "--out", str(out)]) == 2
    assert main(["segment", str(cloud), "the mug", "--classes", "mug", "--out", str(out)]) == 2


def test_a_checkpoint_without_head_says_how_to_get_one(tmp_path: Path, capsys) -> None:
    fixture = Path(__file__).resolve().parents[2] / "ros2_ws/src/query3d_ros/test/fixtures" \
        / "demo_scene_fit.pt"
    cloud = tmp_path / "c.npz"
    np.savez(cloud, points=np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32))
    assert main(["segment", str(cloud), "--classes", "mug, table", "--checkpoint",
                 str(fixture), "--backend", "torch", "--out", str(tmp_path / "o")]) == 2
    assert "train --task semantic" in capsys.readouterr().err


def test_bundled_head_labels_the_demo_scene_and_unseen_names_get_their_objects() -> None:
    data = SyntheticDataset(DEMO_SCENE_DIR, "demo")
    scene = data.scene(data.scene_ids[0])
    segmenter = Segmenter(DEMO_CHECKPOINT, backend="torch")
    names = scene.class_names
    truth = {n: scene.semantic == names.index(n) for n in ("cup", "keyboard", "table")}
    points = scene.points.copy()
    points[:5] = np.nan  # dropouts: labelled -1 with score 0, every other row a class
    result = segmenter.label(points, scene.colors, classes="cup, keyboard, apple, table")
    assert result.labels.shape == (len(scene.points),)
    assert (result.labels[:5] == -1).all() and (result.scores[:5] == 0).all()
    assert np.all((result.scores[5:] > 0) & (result.scores[5:] <= 1))
    assert result.labels[5:].min() >= 0
    assert np.mean(result.labels[truth["table"]] == 3) > 0.9
    assert np.mean(result.labels[truth["keyboard"]] == 1) > 0.5
    # names the head never trained on, for objects that are there
    trained = set(segmenter.semantic_info["trained_names"])
    unseen = ["teacup", "computer keyboard", "desk"]
    assert not trained & set(unseen)
    result = segmenter.label(scene.points, scene.colors, classes=unseen + ["apple"])
    assert np.mean(result.labels[truth["cup"]] == 0) > 0.5
    assert np.mean(result.labels[truth["table"]] == 2) > 0.9


def test_slot_scorer_training_adds_a_scorer_that_serves(trained: dict) -> None:
    out = trained["root"] / "scorer.pt"
    code = main(["train", "--task", "slot-scorer", "--from", str(DEMO_CHECKPOINT),
                 "--data", str(trained["data"]), "--steps", "30", "--queries-per-scene", "1",
                 "--cache", str(trained["root"] / "cache"), "--out", str(out)])
    assert code == 0
    _, source = load_checkpoint(DEMO_CHECKPOINT)
    cfg, state = load_checkpoint(out)
    assert cfg.model.slot_scorer and cfg.decision.slot_score == "scorer"
    assert state["extra"]["slot_scorer"]["queries"] == 4
    learnt = ("slot_scorer.mlp.", "slot_scorer.colour_prototypes", "slot_scorer.colour_log_width",
              "slot_scorer.colour_namer.", "slot_scorer.anchor_log_sharpness")
    for key, value in source["model"].items():
        if key in WORD_TABLES:  # the text encoder's output again: equal up to its last bits,
            # which change with the thread count
            assert torch.allclose(state["model"][key].float(), value.float(), atol=2e-3), key
        elif not key.startswith(learnt):  # the scorer is trained afresh
            assert torch.equal(state["model"][key], value), key
    names = state["model"]["slot_scorer.names"].float()
    assert names.shape[0] == len(state["deployment"]["class_names"]) \
        + len(cfg.model.slot_scorer_words)
    assert torch.allclose(names.norm(dim=-1), torch.ones(len(names)), atol=1e-2)
    colours = state["model"]["slot_scorer.colour_names"].float()
    assert torch.allclose(colours.norm(dim=-1), torch.ones(len(colours)), atol=1e-2)
    data = SyntheticDataset(trained["data"], "val")
    sample = data[0]
    segmenter = Segmenter(out, backend="torch")
    result = segmenter.segment(sample.scene.points, sample.scene.colors, text=sample.query.text)
    assert result.timings_ms["total"] > 0  # answered through the scorer's decision
    from query3d.model.preprocess import prepare_frame

    frame = prepare_frame(sample.scene.points[:3000], sample.scene.colors[:3000],
                          segmenter.model_cfg)
    with torch.inference_mode():
        raw = segmenter.net(frame, segmenter.text_cache(sample.query.text))
    assert not torch.equal(raw["slot_logit"], raw["ref_logit"])


def test_slot_scorer_training_calibrates_its_threshold_out_of_fold(trained: dict) -> None:
    out = trained["root"] / "calibrated.pt"
    summary_path = trained["root"] / "calibrated.json"
    code = main(["train", "--task", "slot-scorer", "--from", str(DEMO_CHECKPOINT),
                 "--data", str(trained["data"]), "--steps", "10", "--queries-per-scene", "1",
                 "--calibrate-folds", "2", "--calibrate-kinds", "tabletop",
                 "--cache", str(trained["root"] / "cache"), "--out", str(out),
                 "--json", str(summary_path)])
    assert code == 0
    table = json.loads(summary_path.read_text())["calibration"]["tabletop:train"]
    assert table["queries"] == 4
    rows = table["thresholds"]
    assert [r["threshold"] for r in rows] == sorted(r["threshold"] for r in rows)
    zero = [r["zero_target"] for r in rows]
    assert zero == sorted(zero)  # a higher threshold answers fewer absent objects
    _, state = load_checkpoint(out)
    assert state["extra"]["slot_scorer"]["calibration"]["folds"] == 2
    with pytest.raises(SystemExit, match="calibration needs"):
        main(["train", "--task", "slot-scorer", "--from", str(DEMO_CHECKPOINT),
              "--data", str(trained["data"]), "--steps", "5", "--queries-per-scene", "1",
              "--calibrate-folds", "2", "--cache", str(trained["root"] / "cache"),
              "--out", str(trained["root"] / "none.pt")])


def test_slot_scorer_training_can_spread_the_slots(trained: dict) -> None:
    out, cache = trained["root"] / "spread.pt", trained["root"] / "cache"
    before = set(cache.glob("slots-*")) if cache.is_dir() else set()
    code = main(["train", "--task", "slot-scorer", "--from", str(DEMO_CHECKPOINT),
                 "--data", str(trained["data"]), "--steps", "10", "--queries-per-scene", "1",
                 "--selection-spread", "0.07", "--cache", str(cache), "--out", str(out)])
    assert code == 0
    cfg, state = load_checkpoint(out)
    assert cfg.model.selection_spread == 0.07
    assert state["extra"]["slot_scorer"]["selection_spread"] == 0.07
    made = set(cache.glob("slots-*")) - before  # other slots: evidence stored anew
    assert made and all("spread0.07" in p.name for p in made)
    segmenter = Segmenter(out, backend="torch")
    assert segmenter.net.selection.spread == 0.07
    sample = SyntheticDataset(trained["data"], "val")[0]
    from query3d.model.preprocess import prepare_frame

    frame = prepare_frame(sample.scene.points[:3000], sample.scene.colors[:3000],
                          segmenter.model_cfg)
    seen = []
    hook = segmenter.net.selection.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.inference_mode():
        segmenter.net(frame, segmenter.text_cache(sample.query.text))
    hook.remove()
    first = seen[0].anchors[:4]  # the first picks lie at least the spread apart
    gaps = torch.cdist(first, first)[torch.triu_indices(4, 4, 1).unbind()]
    assert gaps.min() >= 0.07


def test_slot_scorer_training_with_relations_reuses_the_stored_slots(trained: dict) -> None:
    """--relations extends evidence stored without phrases (the frame half is the same)
    with each command's phrase evidence, exactly what the graph computes, and the
    checkpoint it writes serves with the phrase inputs."""
    from query3d.model.encoders.phrases import RELATIONS
    from query3d.model.heads.slot_scorer import HISTOGRAM
    from query3d.model.preprocess import prepare_frame
    from query3d.training.slot_scoring.cache import EvidenceCache

    cache = trained["root"] / "cache-relations"
    base = ["train", "--task", "slot-scorer", "--from", str(DEMO_CHECKPOINT), "--data",
            str(trained["data"]), "--steps", "10", "--queries-per-scene", "1", "--cache",
            str(cache)]
    assert main([*base, "--no-relations", "--out", str(trained["root"] / "plain.pt")]) == 0
    assert not load_checkpoint(trained["root"] / "plain.pt")[0].model.slot_scorer_relations
    (plain_path,) = cache.glob("slots-*")
    assert main([*base, "--relations", "--out", str(trained["root"] / "rel.pt")]) == 0
    (rel_path,) = set(cache.glob("slots-*")) - {plain_path}
    plain, rel = EvidenceCache.load(plain_path), EvidenceCache.load(rel_path)
    cfg, _ = load_checkpoint(trained["root"] / "rel.pt")
    bins = HISTOGRAM if cfg.model.slot_scorer_colour_histogram else 0  # they stay last
    width = plain.evidence.shape[1] - bins
    assert rel.evidence.shape[1] > width + bins
    assert np.array_equal(rel.evidence[:, :width], plain.evidence[:, :width])
    assert np.array_equal(rel.evidence[:, rel.evidence.shape[1] - bins:],
                          plain.evidence[:, width:])
    assert np.array_equal(rel.iou, plain.iou)

    assert cfg.model.slot_scorer_relations
    segmenter = Segmenter(trained["root"] / "rel.pt", backend="torch")
    data = SyntheticDataset(trained["data"], "train")
    sample = data[0]  # the cache's first query (one per scene, scenes in order)
    frame = prepare_frame(sample.scene.points, sample.scene.colors, segmenter.model_cfg)
    text = segmenter.text_cache(sample.query.text)
    with torch.inference_mode():
        graph = segmenter.net(frame, text)["slot_evidence"].numpy()
    k, phrases = int(rel.query_start[1]), slice(width, rel.evidence.shape[1] - bins)
    # the phrases are the text's alone (the bins are the points', here all of them)
    np.testing.assert_allclose(rel.evidence[:k, phrases].astype(np.float32), graph[:, phrases],
                               atol=2e-3)
    result = segmenter.segment(sample.scene.points, sample.scene.colors,
                               text="the cup to the left of the keyboard")
    assert result.timings_ms["total"] > 0
    assert segmenter.text_cache("the cup to the left of the keyboard").relation[0].argmax() \
        == RELATIONS.index("left")


def test_slot_scorer_training_compares_further_words(trained: dict) -> None:
    """--scorer-words adds words to the names the scorer reads (real tabletop words that
    are no class: "tin", "carton"): their columns sit after the classes', the evidence is
    stored apart from the class-only one, and the checkpoint serves with them."""
    from query3d.model.heads.semantic import embed_class_names

    cache = trained["root"] / "cache-words"
    out = trained["root"] / "words.pt"
    base = ["train", "--task", "slot-scorer", "--from", str(DEMO_CHECKPOINT), "--data",
            str(trained["data"]), "--steps", "10", "--queries-per-scene", "1", "--cache",
            str(cache)]
    assert main([*base, "--scorer-words", "tin, carton", "--out", str(out)]) == 0
    cfg, state = load_checkpoint(out)
    classes = state["deployment"]["class_names"]
    assert cfg.model.slot_scorer_words == ["tin", "carton"]
    assert state["extra"]["slot_scorer"]["words"] == ["tin", "carton"]
    names = state["model"]["slot_scorer.names"].float()
    assert names.shape[0] == len(classes) + 2
    segmenter = Segmenter(out, backend="torch")
    with torch.inference_mode():
        table = embed_class_names(segmenter.text_encoder, ["tin", "carton", classes[0]])
    assert torch.allclose(names[-2:], table[:2].float(), atol=2e-3)
    assert torch.allclose(names[0], table[2].float(), atol=2e-3)
    (stored,) = cache.glob("slots-*")
    assert "-w" in stored.name
    sample = SyntheticDataset(trained["data"], "val")[0]
    result = segmenter.segment(sample.scene.points, sample.scene.colors,
                               text="the yellow tin")
    assert result.timings_ms["total"] > 0
    with pytest.raises(SystemExit, match="more than once"):  # read as a class list is
        main([*base, "--scorer-words", "tin, Tin", "--out", str(trained["root"] / "x.pt")])
    with pytest.raises(ValueError, match="class names already"):
        main([*base, "--scorer-words", f"tin,{classes[1]}",
              "--out", str(trained["root"] / "again.pt")])
