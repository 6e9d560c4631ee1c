"""Configuration: plain dataclasses filled from YAML, strictly.

Every section is a dataclass; YAML is plain data. Unknown keys are rejected with the
name of the key and the keys that are valid at that place, because a typo in a robot's
params file must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from query3d.config.model import DecisionConfig, LossConfig, ModelConfig
from query3d.config.runtime import RuntimeConfig
from query3d.config.training import AugmentConfig, DataConfig, DataSource, TrainConfig

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"
T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or dict does not match the schema."""


@dataclass
class Config:
    """The whole system, a section per concern: the network's architecture (``model``),
    its training objective (``loss``), how outputs become answers (``decision``),
    training, data and serving (``runtime``). Each part of the code receives only the
    sections it uses."""

    preset: str = "small"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


__all__ = [
    "AugmentConfig", "Config", "ConfigError", "DataConfig", "DataSource", "DecisionConfig",
    "LossConfig",
    "ModelConfig", "RuntimeConfig", "TrainConfig", "config_from_dict", "from_dict",
    "load_config", "preset_names", "to_dict", "upgrade_config_dict",
]


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return from_dict(annotation, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys raise ``ConfigError``."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; valid keys are: {', '.join(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a section's own check (e.g. a value outside its choices)
        raise ConfigError(f"{where}: {exc}") from exc


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain-data form of a config (lists, not tuples) for YAML, JSON and checkpoints."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(obj))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load_config(name_or_path: str | Path = "small", overrides: dict | None = None) -> Config:
    """Load a preset by name (``small``, ``paper``) or a YAML file.

    A file may say ``base: small`` to start from a preset and change only some keys.
    """
    path = Path(name_or_path)
    if str(name_or_path) in preset_names():
        data = _read_yaml(PRESET_DIR / f"{name_or_path}.yaml")
        data.setdefault("preset", str(name_or_path))
    elif path.is_file():
        data = _read_yaml(path)
        base = data.pop("base", None)
        if base is not None:
            if base not in preset_names():
                raise ConfigError(
                    f"{path}: base {base!r} is not a preset; presets: {', '.join(preset_names())}"
                )
            data = _merge(_read_yaml(PRESET_DIR / f"{base}.yaml"), data)
            data.setdefault("preset", base)
    else:
        raise ConfigError(
            f"{name_or_path!r} is neither a preset ({', '.join(preset_names())}) nor a YAML file"
        )
    if overrides:
        data = _merge(data, overrides)
    _refuse_moved_keys(data, str(name_or_path))
    return from_dict(Config, data)


def _refuse_moved_keys(data: dict[str, Any], where: str) -> None:
    """A YAML file written for the flat layout gets told where each key went."""
    moved = [f"model.{old} is now {section}.{new}"
             for section, keys in _LEGACY_MODEL_KEYS.items()
             for old, new in keys.items() if old in data.get("model", {})]
    if isinstance(data.get("data", {}).get("augment"), bool):
        moved.append("data.augment is now a section: data.augment.enabled, "
                     "data.augment.rotate_z, ...")
    moved += [f"data.{k} is now data.augment.{k}" for k in _LEGACY_AUGMENT_KEYS
              if k in data.get("data", {})]
    if "max_points" in data.get("runtime", {}):
        moved.append("runtime.max_points is gone: the Segmenter labels every point "
                     "(runtime.network_points sets the network's density)")
    if moved:
        raise ConfigError(f"{where}: " + "; ".join(moved))


# keys of the flat layout before the loss / decision / augment sections were split out
_LEGACY_MODEL_KEYS = {
    "loss": {"loss_alpha": "alpha", "loss_beta": "beta", "loss_gamma": "gamma",
             "loss_delta": "delta", "dice_loss": "dice", "loss_smooth_l1_eps": "smooth_l1_eps",
             "loss_noobj_weight": "noobj_weight", "loss_seed_weight": "seed_weight",
             "loss_referred_weight": "referred_weight", "sce_log_zero": "sce_log_zero",
             "class_weights": "class_weights",
             **{f"match_cost_{k}": f"match_cost_{k}"
                for k in ("referred", "class", "box", "mask", "dice")}},
    "decision": {k: k for k in ("score_threshold", "mask_threshold", "dedup_iou")},
}
_LEGACY_AUGMENT_KEYS = ("rotate_z", "scale_range", "jitter_sigma", "color_jitter",
                        "point_dropout", "crop_size", "view_dependent")


def upgrade_config_dict(data: dict[str, Any]) -> dict[str, Any]:
    """A config dict saved by an earlier query3d (one flat ``model`` section, augment
    flags in ``data``, ``runtime.max_points``) in today's sections; today's dicts pass
    through unchanged. Checkpoints and exported graphs made before the split still load."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    model = out.get("model", {})
    for section, keys in _LEGACY_MODEL_KEYS.items():
        for old, new in keys.items():
            if old in model:
                out.setdefault(section, {})[new] = model.pop(old)
    data_section = out.get("data", {})
    if isinstance(data_section.get("augment"), bool):
        augment = {"enabled": data_section.pop("augment")}
        for key in _LEGACY_AUGMENT_KEYS:
            if key in data_section:
                augment[key] = data_section.pop(key)
        data_section["augment"] = augment
    out.get("runtime", {}).pop("max_points", None)  # the Segmenter owns the point policy
    decision = out.get("decision", {})
    if "dedup_iou" in decision:  # duplicates are now told by overlap, not IoU
        decision.setdefault("dedup_overlap", decision.pop("dedup_iou"))
    return out


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a Config saved with ``to_dict`` (e.g. inside a checkpoint or an ONNX
    graph's metadata), from this or an earlier query3d."""
    return from_dict(Config, upgrade_config_dict(data))
