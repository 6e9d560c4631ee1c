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

from query3d.model.config import ModelConfig, RuntimeConfig
from query3d.training.config import DataConfig, TrainConfig

PRESET_DIR = Path(__file__).resolve().parent / "presets"
T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or dict does not match the schema."""


@dataclass
class Config:
    """The whole system: network, training, data and runtime sections."""

    preset: str = "small"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


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
    return cls(**kwargs)


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
    return from_dict(Config, data)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a Config saved with ``to_dict`` (e.g. inside a checkpoint)."""
    return from_dict(Config, data)
