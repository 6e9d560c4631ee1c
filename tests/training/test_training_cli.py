"""`query3d train` and `query3d eval` end to end on a tiny generated synthetic split:
run folder contents, refusal to overwrite, resume with more epochs, eval JSON and table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tiny_data import tiny_tabletop
from tiny_scenes import tiny_config

from query3d.cli import main
from query3d.config import to_dict
from query3d.model.checkpoint import load_checkpoint
from query3d.training.data.synthetic.catalogue import CLASS_NAMES


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("cli")
    tiny_tabletop(root / "data", {"train": (3, 0), "val": (2, 0)}, max_points=1200,
                  queries_per_scene=4)
    cfg = tiny_config(epochs=1, eval_every=1)
    cfg.model.num_classes = len(CLASS_NAMES)
    cfg.data.kind = "tabletop"
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(to_dict(cfg)))
    return {"root": root, "data": root / "data", "config": config, "run": root / "run"}


def _train(setup: dict, *extra: str) -> int:
    return main(["train", "--config", str(setup["config"]), "--data", str(setup["data"]),
                 "--out", str(setup["run"]), *extra])


def test_train_writes_the_run_folder_and_resumes(setup: dict) -> None:
    summary_path = setup["root"] / "train.json"
    assert _train(setup, "--json", str(summary_path)) == 0
    run = setup["run"]
    for name in ("config.yaml", "last.pt", "best.pt", "log.jsonl"):
        assert (run / name).is_file(), name
    assert any((run / "tb").iterdir())
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["root"] == str(
        setup["data"])
    summary = json.loads(summary_path.read_text())
    assert summary["finished"] and summary["epoch"] == 1 and summary["world_size"] == 1
    _, state = load_checkpoint(run / "last.pt")
    assert state["extra"]["class_names"] == list(CLASS_NAMES)
    steps = summary["global_step"]
    with pytest.raises(ValueError, match="already holds last.pt"):
        _train(setup)
    assert _train(setup, "--resume", "--epochs", "2", "--json", str(summary_path)) == 0
    again = json.loads(summary_path.read_text())
    assert again["epoch"] == 2 and again["global_step"] == 2 * steps
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if r["kind"] == "val"] == [1, 2]


def test_eval_json_and_table(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    if not (setup["run"] / "last.pt").is_file():
        _train(setup)
    out = setup["root"] / "eval.json"
    assert main(["eval", "--checkpoint", str(setup["run"] / "last.pt"), "--data",
                 str(setup["data"]), "--split", "val", "--json", str(out),
                 "--score-thresholds", "0.0,1.0"]) == 0
    table = capsys.readouterr().out
    assert "miou" in table and "single-target" in table and "per category" in table
    assert "baseline: every object" in table and "margin over the best baseline" in table
    result = json.loads(out.read_text())
    # the trivial baselines were scored on the very same queries
    assert set(result["baselines"]) == {"nothing", "every_object", "largest_object",
                                        "random_object", "model_with_another_query"}
    assert all(b["count"] == result["count"] for b in result["baselines"].values())
    # other thresholds on the same forwards: 1.0 never fires, so it answers like "nothing"
    by_threshold = result["by_score_threshold"]
    assert by_threshold["1"]["miou"] == pytest.approx(result["baselines"]["nothing"]["miou"])
    assert by_threshold["0"]["count"] == result["count"]
    assert result["count"] == 8 and result["split"] == "val"
    for key in ("miou", "acc@0.25", "acc@0.5", "box_acc@0.25", "box_acc@0.5", "box_f1@0.5"):
        assert 0.0 <= result[key] <= 1.0, key
    assert set(result["by_eval_type"]) == {"zt", "st", "mt"}
    # one row per query, and the summary is their mean
    rows = result["queries"]
    assert len(rows) == result["count"] and len({r["sample_id"] for r in rows}) == len(rows)
    assert all(r["text"] and 0.0 <= r["iou"] <= 1.0 for r in rows)
    assert sum(r["iou"] for r in rows) / len(rows) == pytest.approx(result["miou"])
    assert all(0.0 <= s <= 1.0 for r in rows for s in r["scores"])
    assert all(not r["scores"] for r in rows if r["eval_type"] == "zt" and r["iou"] == 1.0)
    assert "queries" not in result["baselines"]["nothing"]
    assert result["by_kind"] and result["by_category"]
    # The verb and the in-training validation score the same checkpoint the same way.
    rows = [json.loads(line) for line in (setup["run"] / "log.jsonl").read_text().splitlines()]
    last_val = [r for r in rows if r["kind"] == "val"][-1]
    assert result["miou"] == pytest.approx(last_val["miou"], abs=1e-9)
    assert result["slot_score"] == "referred"
    # scored by relevance too, the same slots can only lose score: never more targets
    assert main(["eval", "--checkpoint", str(setup["run"] / "last.pt"), "--data",
                 str(setup["data"]), "--split", "val", "--json", str(out), "--no-baselines",
                 "--slot-score", "referred_x_relevance", "--score-thresholds", "0.0"]) == 0
    relevance = json.loads(out.read_text())
    assert relevance["slot_score"] == "referred_x_relevance" and relevance["count"] == 8
    assert relevance["by_score_threshold"]["0"]["miou"] == pytest.approx(
        by_threshold["0"]["miou"])  # every slot still fires above 0


def test_missing_split_is_named(setup: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no split 'test'"):
        main(["eval", "--checkpoint", str(setup["run"] / "last.pt"), "--data",
              str(setup["data"]), "--split", "test"])


def test_spread_subset_covers_the_whole_split():
    from query3d.training.trainer.run import SpreadSubset

    class Split(list):
        class_names = ["cup", "box"]

    subset = SpreadSubset(Split(range(100)), 5)
    assert [subset[i] for i in range(len(subset))] == [0, 25, 50, 74, 99]
    assert subset.class_names == ["cup", "box"]


def test_eval_says_when_the_checkpoint_trained_on_the_split(
        setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    if not (setup["run"] / "last.pt").is_file():
        _train(setup)
    out = setup["root"] / "eval_train.json"
    for split, seen in (("val", []), ("train", ["network"])):
        assert main(["eval", "--checkpoint", str(setup["run"] / "last.pt"), "--data",
                     str(setup["data"]), "--split", split, "--no-baselines",
                     "--max-samples", "2", "--json", str(out)]) == 0
        printed = capsys.readouterr().out
        assert json.loads(out.read_text())["seen_by"] == seen
        assert ("not a held-out number" in printed) == bool(seen), split


def test_the_best_slot_oracle_answers_with_the_slot_covering_each_target(
        setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    import torch

    from query3d.model.checkpoint import model_from_state
    from query3d.training.evaluation.predict import ModelPredictor
    from query3d.training.trainer.data import open_split

    last = setup["run"] / "last.pt"
    if not last.is_file():
        _train(setup)
    cfg, state = load_checkpoint(last)
    predictor = ModelPredictor(model_from_state(cfg, state, last, torch.device("cpu")),
                               cfg.model, cfg.decision)
    singles = 0
    for sample in open_split("tabletop", setup["data"], "val", cfg.data.max_points):
        result = predictor.best_slots(sample)
        if not sample.query.object_ids:
            assert result.no_target  # an absent object: the oracle knows
            continue
        raw, _ = predictor.forward(sample)
        inside = raw["mask_logits"].reshape(raw["mask_logits"].shape[-2], -1).numpy() > 0
        truth = sample.target_mask()
        ious = (inside & truth).sum(1) / np.maximum((inside | truth).sum(1), 1)
        answer = result.union_mask()
        got = (answer & truth).sum() / max((answer | truth).sum(), 1)
        if len(sample.query.object_ids) == 1:
            singles += 1
            assert got == pytest.approx(ious.max())
    assert singles
    out = setup["root"] / "oracle.json"
    assert main(["eval", "--checkpoint", str(last), "--data", str(setup["data"]), "--split",
                 "val", "--no-baselines", "--best-slots", "--json", str(out)]) == 0
    assert "oracle, the best slot per target" in capsys.readouterr().out
    oracle = json.loads(out.read_text())["best_slots"]
    assert oracle["count"] == 8 and oracle["zero_target_accuracy"] == 1.0
