"""What serving a network needs from its training, and nothing else.

A checkpoint carries the whole ``Config`` (a run resumes from it); a served network needs
only the sections that shape its graph (``model``), turn its outputs into answers
(``decision``), the point density it was trained at and the names of its classes. The
same record goes into checkpoints and into exported graphs' metadata, so a robot serving
an ONNX file knows the density without the training config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from query3d.config import (
    Config,
    ConfigError,
    DecisionConfig,
    ModelConfig,
    from_dict,
    to_dict,
    upgrade_config_dict,
)


@dataclass
class Deployment:
    preset: str
    model: ModelConfig
    decision: DecisionConfig
    network_points: int  # points per cloud the network was trained on (0 = all)
    class_names: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: Config, class_names: list[str] | None = None) -> Deployment:
        return cls(cfg.preset, cfg.model, cfg.decision, cfg.data.max_points,
                   list(class_names or []))

    @classmethod
    def from_checkpoint(cls, cfg: Config, payload: dict[str, Any]) -> Deployment:
        """From a loaded checkpoint; files from before this record take the density from
        their training config, as the runtime did then."""
        saved = payload.get("deployment")
        if saved:
            return cls.from_dict(saved)
        names = (payload.get("extra") or {}).get("class_names", [])
        return cls.from_config(cfg, names)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        data = dict(data)
        sections = upgrade_config_dict({"model": data.get("model", {}),
                                        "decision": data.get("decision", {})})
        try:
            return cls(str(data["preset"]), from_dict(ModelConfig, sections["model"], "model"),
                       from_dict(DecisionConfig, sections.get("decision", {}), "decision"),
                       int(data["network_points"]), list(data.get("class_names", [])))
        except KeyError as exc:
            raise ConfigError(f"deployment record lacks {exc}") from exc
