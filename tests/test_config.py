"""Configuration: presets load, files override presets, unknown keys are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from query3d.config import ConfigError, config_from_dict, load_config, preset_names, to_dict


def test_presets_load_with_distinct_scales() -> None:
    assert {"small", "paper"} <= set(preset_names())
    small, paper = load_config("small"), load_config("paper")
    assert small.preset == "small" and paper.preset == "paper"
    assert paper.model.dim > small.model.dim
    assert paper.model.decoder_layers > small.model.decoder_layers


def test_unknown_key_names_the_key_and_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("base: small\nmodel:\n  dimm: 32\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "'dimm'" in message and "config.model" in message
    assert "dim," in message  # lists the valid keys


def test_unknown_section_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown key 'modle'"):
        load_config("small", {"modle": {"dim": 8}})


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(ConfigError, match="config.model.dim: expected an integer"):
        load_config("small", {"model": {"dim": "wide"}})
    with pytest.raises(ConfigError, match="config.train.amp: expected true or false"):
        load_config("small", {"train": {"amp": "yes"}})


def test_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("base: paper\nmodel:\n  num_queries: 7\n")
    cfg = load_config(path)
    assert cfg.model.num_queries == 7
    assert cfg.model.dim == load_config("paper").model.dim
    assert cfg.preset == "paper"


def test_unknown_base_and_missing_file_fail_clearly(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("base: huge\n")
    with pytest.raises(ConfigError, match="base 'huge' is not a preset"):
        load_config(path)
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config(tmp_path / "nope.yaml")


def test_round_trip_through_plain_data() -> None:
    cfg = load_config("paper")
    assert config_from_dict(to_dict(cfg)) == cfg


def test_sections_per_concern_and_the_legacy_flat_layout_upgrades() -> None:
    """Checkpoints and graphs saved with one flat ``model`` section still load: losses go
    to ``loss``, thresholds to ``decision``, augment flags to ``data.augment``."""
    flat = to_dict(load_config("small"))
    flat["model"].update(loss_gamma=0.25, dice_loss=True, score_threshold=0.4,
                         match_cost_box=3.0)
    augment = flat["data"].pop("augment")
    flat["data"].update(augment=False, rotate_z=False, crop_size=0.5)
    flat["runtime"]["max_points"] = 200000
    cfg = config_from_dict(flat)
    assert cfg.loss.gamma == 0.25 and cfg.loss.dice and cfg.loss.match_cost_box == 3.0
    assert cfg.decision.score_threshold == 0.4
    assert not cfg.data.augment.enabled and not cfg.data.augment.rotate_z
    assert cfg.data.augment.crop_size == 0.5
    assert augment["max_angle"] == cfg.data.augment.max_angle  # untouched keys keep defaults
    assert not hasattr(cfg.model, "score_threshold") and not hasattr(cfg.model, "loss_gamma")
    assert config_from_dict(to_dict(cfg)) == cfg  # today's layout passes through unchanged


def test_a_saved_dedup_iou_becomes_dedup_overlap() -> None:
    """Checkpoints from before duplicates were told by overlap keep their setting."""
    saved = to_dict(load_config("small"))
    saved["decision"].pop("dedup_overlap")
    saved["decision"]["dedup_iou"] = 0.3
    assert config_from_dict(saved).decision.dedup_overlap == 0.3
    flat = to_dict(load_config("small"))
    flat["decision"].pop("dedup_overlap")
    flat["model"]["dedup_iou"] = 0.4  # the flat layout, older still
    assert config_from_dict(flat).decision.dedup_overlap == 0.4


def test_a_yaml_in_the_flat_layout_is_told_where_each_key_went(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("base: small\nmodel:\n  loss_gamma: 0.25\n  score_threshold: 0.3\n"
                   "data:\n  augment: false\n")
    with pytest.raises(ConfigError) as err:
        load_config(old)
    text = str(err.value)
    assert "model.loss_gamma is now loss.gamma" in text
    assert "model.score_threshold is now decision.score_threshold" in text
    assert "data.augment.enabled" in text


def test_scorer_words_must_be_distinct_words() -> None:
    cfg = load_config("small", {"model": {"slot_scorer_words": ["tin", "carton"]}})
    assert cfg.model.slot_scorer_words == ["tin", "carton"]
    for bad in (["tin", "tin"], ["tin", " "]):
        with pytest.raises((ConfigError, ValueError), match="slot_scorer_words"):
            load_config("small", {"model": {"slot_scorer_words": bad}})
