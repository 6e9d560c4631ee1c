"""What a checkpoint trained on, so that an evaluation on those data says it is not held out.

A release may fold a validation split back into a head's training once the recipe is
chosen (more real scans is what the slot scorer lacks). ``query3d eval`` on that split
then measures memory, not generalisation, and should say so rather than print a number
that reads like a held-out one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from query3d.config import Config

HEADS = {"semantic": "semantic head", "slot_scorer": "slot scorer"}  # extra record -> name


def _family(kind: str) -> str:
    """Data kinds made from the same scans share a family: ``mosd-generated`` and
    ``mosd-composite`` queries are sampled on the ``mosd`` scans."""
    return kind.split("-")[0]


def training_sources(cfg: Config, extra: dict[str, Any] | None) -> list[dict[str, str]]:
    """Every (part, kind, root, split) a checkpoint's weights were fitted on: the network's
    training split and its ``data.mix``, and each head's recorded sources."""
    data = cfg.data
    out = [{"part": "network", "kind": data.kind, "root": str(data.root),
            "split": data.train_split}]
    out += [{"part": "network", "kind": m.kind, "root": str(m.root), "split": m.split}
            for m in data.mix]
    for key, part in HEADS.items():
        for source in ((extra or {}).get(key) or {}).get("sources", []):
            out.append({"part": part, "kind": source["kind"], "root": str(source["root"]),
                        "split": source["split"]})
    return out


def seen_in_training(cfg: Config, extra: dict[str, Any] | None, kind: str,
                     root: str | Path, split: str) -> list[str]:
    """The parts of the checkpoint (network, semantic head, slot scorer) that trained on
    the scans of ``kind`` ``split`` under a folder named like ``root`` (the folder's name
    is compared: a checkpoint records the path it was trained from, on another machine)."""
    name = Path(root).name
    parts = [s["part"] for s in training_sources(cfg, extra)
             if _family(s["kind"]) == _family(kind) and Path(s["root"]).name == name
             and s["split"] == split]
    return list(dict.fromkeys(parts))  # each part once, in order
