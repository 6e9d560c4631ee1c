"""k-fold stacking of the semantic evidence (`query3d train --task slot-scorer
--stack-folds K`): each fold's head never trains on its fold's scenes, and a stacked cache
differs from the plain one in the semantic head's columns only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_data import tiny_tabletop

from query3d.bundled import DEMO_CHECKPOINT
from query3d.cli import main
from query3d.model.checkpoint import load_checkpoint
from query3d.model.heads.slot_scorer import SCALARS
from query3d.training.slot_scoring import stacking
from query3d.training.slot_scoring.cache import EvidenceCache
from query3d.training.slot_scoring.stacking import FoldHeads, base_scan


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("stacking")
    tiny_tabletop(root / "data", {"train": (4, 0)})
    out = root / "head.pt"
    assert main(["train", "--task", "semantic", "--from", str(DEMO_CHECKPOINT),
                 "--data", str(root / "data"), "--steps", "20",
                 "--cache", str(root / "cache"), "--out", str(out)]) == 0
    return {"root": root, "data": root / "data", "head": out}


def test_a_composite_goes_with_its_base_scan() -> None:
    assert base_scan("learn21+learn29+learn43~1") == "learn21"
    assert base_scan("learn7") == "learn7"


def test_no_fold_head_trains_on_its_fold(head: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    heads = FoldHeads(head["head"], 2, ("tabletop",), cache_dir=head["root"] / "cache")
    assert sorted(heads.fold_of) == sorted(p.stem for p in
                                           (head["data"] / "train" / "scenes").iterdir())
    assert sorted(heads.fold_of.values()) == [0, 0, 1, 1]
    seen: list[list[bytes]] = []
    fit = stacking.fit_semantic_head

    def recording_fit(module, caches, table, settings, repeats):
        seen.append([c.feat[c.scene_start[i]:c.scene_start[i + 1]].tobytes()
                     for c in caches for i in range(c.num_scenes)])
        return fit(module, caches, table, settings, repeats)

    monkeypatch.setattr(stacking, "fit_semantic_head", recording_fit)
    assert len(heads.states) == 2 and len(seen) == 2
    from query3d.training.semantic.cache import StatsCache

    full = StatsCache.load(next((head["root"] / "cache").glob("tabletop-*.npz")))
    for fold, trained in enumerate(seen):
        assert len(trained) == 2
        for i, scene in enumerate(heads.ids[0]):
            rows = full.feat[full.scene_start[i]:full.scene_start[i + 1]].tobytes()
            assert (rows in trained) == (heads.fold_of[scene] != fold)
    assert any(not np.allclose(a, b) for a, b in
               zip(heads.states[0].values(), heads.states[1].values()))


def test_stacked_evidence_differs_in_the_semantic_columns_only(head: dict) -> None:
    cache = head["root"] / "scorer_cache"
    common = ["train", "--task", "slot-scorer", "--from", str(head["head"]),
              "--data", str(head["data"]), "--steps", "5", "--queries-per-scene", "1",
              "--cache", str(cache)]
    assert main([*common, "--out", str(head["root"] / "plain.pt")]) == 0
    summary = head["root"] / "stacked.json"
    assert main([*common, "--stack-folds", "2", "--stack-kinds", "tabletop",
                 "--out", str(head["root"] / "stacked.pt"), "--json", str(summary)]) == 0
    stacked = sorted(cache.glob("slots-tabletop-*-stack2-*.npz"))
    plain = sorted(p for p in cache.glob("slots-tabletop-*.npz") if "-stack" not in p.name)
    assert len(stacked) == 1 and len(plain) == 1
    a, b = EvidenceCache.load(plain[0]), EvidenceCache.load(stacked[0])
    assert np.array_equal(a.iou, b.iou) and np.array_equal(a.query_start, b.query_start)
    cfg, _ = load_checkpoint(head["head"])
    text_free = 3 * cfg.model.dim + 3  # the slot's query, box feature, its product with the
    # sentence, the referred and relevance logits and the mask mass: no semantic head in them
    assert np.array_equal(a.evidence[:, :text_free], b.evidence[:, :text_free])
    assert not np.array_equal(a.evidence[:, text_free:text_free + SCALARS],
                              b.evidence[:, text_free:text_free + SCALARS])
    recorded = json.loads(summary.read_text())["stacked"]
    assert recorded == {"folds": 2, "kinds": ["tabletop"], "scenes": 4}
    with pytest.raises(SystemExit, match="stack-folds"):
        main([*common, "--stack-folds", "1", "--out", str(head["root"] / "none.pt")])


def test_stacking_needs_a_recorded_semantic_recipe(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[2] / "ros2_ws/src/query3d_ros/test/fixtures" \
        / "demo_scene_fit.pt"
    _, state = load_checkpoint(fixture)
    assert not (state.get("extra") or {}).get("semantic")
    with pytest.raises(ValueError, match="no semantic head training recorded"):
        FoldHeads(fixture, 2, ("tabletop",), cache_dir=tmp_path)
