"""Which parts of a checkpoint trained on a split: the network's own splits and each head's
recorded sources, matched by data family, folder name and split."""

from __future__ import annotations

from query3d.config import Config
from query3d.config.training import DataSource
from query3d.training.evaluation.provenance import seen_in_training, training_sources


def _config() -> Config:
    cfg = Config()
    cfg.data.kind, cfg.data.root, cfg.data.train_split = "tabletop", "data/tabletop", "train"
    cfg.data.mix = [DataSource(kind="mosd", root="../shared/data/mosd-learn", split="train")]
    return cfg


EXTRA = {
    "semantic": {"sources": [{"kind": "mosd", "root": "../shared/data/mosd-learn",
                              "split": "train", "limit": 0}]},
    "slot_scorer": {"sources": [
        {"kind": "tabletop", "root": "data/tabletop", "split": "train", "repeat": 2},
        {"kind": "mosd-generated", "root": "../shared/data/mosd-learn", "split": "val",
         "repeat": 20}]},
}


def test_sources_list_the_network_and_every_head() -> None:
    parts = [(s["part"], s["kind"], s["split"]) for s in training_sources(_config(), EXTRA)]
    assert parts == [("network", "tabletop", "train"), ("network", "mosd", "train"),
                     ("semantic head", "mosd", "train"), ("slot scorer", "tabletop", "train"),
                     ("slot scorer", "mosd-generated", "val")]


def test_a_split_is_seen_by_the_parts_that_trained_on_its_scans() -> None:
    cfg = _config()
    # another machine's path to the same folder; generated queries are on the same scans
    assert seen_in_training(cfg, EXTRA, "mosd", "/data/mosd-learn", "val") == ["slot scorer"]
    assert seen_in_training(cfg, EXTRA, "mosd", "/data/mosd-learn", "train") == [
        "network", "semantic head"]
    assert seen_in_training(cfg, EXTRA, "tabletop", "data/tabletop", "train") == [
        "network", "slot scorer"]
    assert seen_in_training(cfg, EXTRA, "tabletop", "data/tabletop", "val") == []
    assert seen_in_training(cfg, EXTRA, "osd", "/data/osd-learn", "train") == []
    assert seen_in_training(cfg, None, "mosd", "/data/mosd-learn", "val") == []
