"""The one checkpoint format shared by training, evaluation, export and the runtime.

A checkpoint is a plain-data dict saved with ``torch.save`` and read back with
``weights_only=True`` (no arbitrary code runs when a robot loads a file it was handed).
It carries its configuration as a plain dict and a format version so that a reader can
say *why* a file does not fit instead of failing deep inside ``load_state_dict``.
Writes go to a temporary file in the same folder and are renamed into place, so a run
killed mid-write never leaves a half-written ``last.pt`` behind.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from query3d.config import Config, ConfigError, config_from_dict, to_dict
from query3d.model.deployment import Deployment

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "config", "model")


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, from another format version, or was made
    for a different network configuration."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist."""


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare network inside a DistributedDataParallel (or similar ``.module``) wrapper."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return model


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch generator states in plain data (loadable weights-only)."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put every generator back where ``capture_rng_state`` found it."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state({
        "bit_generator": np_state["bit_generator"],
        "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
        "has_gauss": np_state["has_gauss"],
        "gauss": np_state["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    cfg: Config,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write model weights (memory banks are buffers, so included), config, optimiser and
    scheduler states, RNG states and ``extra`` (epoch, step, scaler, ...) atomically."""
    path = Path(path)
    extra = dict(extra or {})
    payload = {
        "format_version": FORMAT_VERSION,
        "config": to_dict(cfg),
        "deployment": Deployment.from_config(cfg, extra.get("class_names")).to_dict(),
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": capture_rng_state(),
        "extra": extra,
    }
    return _atomic_save(payload, path)


# read once: os.umask can only be read by setting it, which is not thread-safe to repeat
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _atomic_save(payload: dict[str, Any], path: Path) -> Path:
    """temp file + fsync + rename: a crash never leaves a half-written checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file owner-only; a checkpoint is shared like any written file
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read(path: Path) -> Any:
    size = path.stat().st_size
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {path} holds objects that are not plain data and will not be "
            f"loaded with weights_only=True: {str(exc).splitlines()[0]}") from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        with path.open("rb") as handle:
            is_zip = handle.read(4) == b"PK\x03\x04"
        what = ("is truncated (a torch zip archive without its end: was the write "
                "interrupted?)" if is_zip else "is corrupt (not a torch checkpoint archive)")
        raise CheckpointError(f"checkpoint {path} ({size} bytes) {what}: "
                              f"{str(exc).splitlines()[0]}") from exc


def config_differences(
    saved: Config, expected: Config, sections: tuple[str, ...] = ("model",)
) -> list[str]:
    """``section.key: checkpoint X, expected Y`` for every differing key of ``sections``."""
    a, b = to_dict(saved), to_dict(expected)
    out = []
    for section in sections:
        left, right = a[section], b[section]
        for key in sorted(set(left) | set(right)):
            if left.get(key) != right.get(key):
                out.append(f"{section}.{key}: checkpoint {left.get(key)!r}, "
                           f"expected {right.get(key)!r}")
    return out


def load_checkpoint(
    path: str | Path,
    expected_config: Config | None = None,
    sections: tuple[str, ...] = ("model",),
) -> tuple[Config, dict[str, Any]]:
    """Read a checkpoint; returns its ``Config`` and the whole payload dict.

    With ``expected_config``, the ``sections`` that shape the network (by default
    ``model``) must match exactly; training and runtime settings may differ (a resumed
    run may train longer, a robot may use another backend).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint {path} does not exist")
    state = _read(path)
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        missing = ([k for k in REQUIRED_KEYS if k not in state]
                   if isinstance(state, dict) else list(REQUIRED_KEYS))
        raise CheckpointError(f"checkpoint {path} is not a query3d checkpoint: "
                              f"missing {', '.join(missing)}")
    version = state["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format_version {version!r}; this "
                              f"query3d reads format_version {FORMAT_VERSION}")
    try:
        cfg = config_from_dict(state["config"])
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path} carries a config this query3d does not "
                              f"accept: {exc}") from exc
    if expected_config is not None:
        diff = config_differences(cfg, expected_config, sections)
        if diff:
            raise CheckpointError(f"checkpoint {path} was made for a different network; "
                                  f"differing keys:\n  " + "\n  ".join(diff))
    return cfg, state


def load_model(path: str | Path, device: str | torch.device = "cpu",
               expected_config: Config | None = None, **model_kwargs: Any
               ) -> tuple[torch.nn.Module, Config]:
    """Build the network a checkpoint describes and load its weights and memory banks
    (eval mode). ``model_kwargs`` go to ``build_model`` (e.g. ``text_encoder=None``)."""
    cfg, state = load_checkpoint(path, expected_config)
    return model_from_state(cfg, state, path, device, **model_kwargs), cfg


def model_from_state(cfg: Config, state: dict[str, Any], path: str | Path,
                     device: str | torch.device = "cpu", **model_kwargs: Any
                     ) -> torch.nn.Module:
    """``load_model`` from a checkpoint already read (``load_checkpoint``), for callers
    that also need its ``extra`` record: one read of the file, not two."""
    from query3d.model.mrcosmo import build_model

    model = build_model(cfg.model, **model_kwargs)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not fit the network its config "
                              f"describes: {exc}") from exc
    return model.to(device).eval()


def init_weights_from(model: torch.nn.Module, path: str | Path) -> Config:
    """Start training from another run's weights and memory banks (fine-tuning).

    Only the tensors must fit: loss weights, thresholds and the schedule may differ from
    the source run's, so the config is not compared; a network of another shape fails
    with torch's list of missing / unexpected / mis-shaped tensors.
    """
    cfg, state = load_checkpoint(path)
    try:
        unwrap(model).load_state_dict({k: v.float() if v.is_floating_point() else v
                                       for k, v in state["model"].items()})
    except RuntimeError as exc:
        raise CheckpointError(f"train.init_from: {path} does not fit this network: {exc}"
                              ) from exc
    return cfg


def save_release_checkpoint(src: str | Path, dst: str | Path, half: bool = True,
                            decision_overrides: dict[str, float] | None = None) -> Path:
    """A checkpoint to ship: weights, memory banks, config and class names only (no
    optimiser, scheduler or RNG state), floating tensors in fp16 when ``half`` (half the
    size; loading casts back to the network's fp32). It cannot resume training.

    ``decision_overrides`` recalibrates post-processing thresholds (``score_threshold``,
    ``mask_threshold``) chosen on validation data; nothing that shapes the network."""
    cfg, state = load_checkpoint(src)
    if decision_overrides:
        allowed = {f.name for f in dataclasses.fields(cfg.decision)}
        bad = sorted(set(decision_overrides) - allowed)
        if bad:
            raise ValueError(f"only the decision section {sorted(allowed)} can be "
                             f"recalibrated, not {bad}")
        cfg = dataclasses.replace(cfg, decision=dataclasses.replace(cfg.decision,
                                                                    **decision_overrides))
    weights = {k: (v.half() if half and v.is_floating_point() else v)
               for k, v in state["model"].items()}
    extra = {k: v for k, v in (state.get("extra") or {}).items()
             if k in ("class_names", "semantic", "slot_scorer")}  # what serving reads
    deployment = Deployment.from_checkpoint(cfg, state)
    deployment.decision = cfg.decision
    payload = {"format_version": FORMAT_VERSION, "config": to_dict(cfg),
               "deployment": deployment.to_dict(), "model": weights,
               "optimizer": None, "scheduler": None, "rng": None,
               "extra": {**extra, "released_from": Path(src).name, "fp16": half}}
    return _atomic_save(payload, Path(dst))


def save_with_head(src: str | Path, dst: str | Path, prefix: str,
                   head_state: dict[str, Any], model_flags: dict[str, Any],
                   extra: dict[str, Any], decision: dict[str, Any] | None = None,
                   half: bool | None = None) -> Path:
    """``src`` with a head trained on its frozen network added: ``prefix.*`` weights,
    ``model_flags`` set in the model section (e.g. ``semantic_head: true``), ``extra``
    merged into the checkpoint's extra record (what the head was trained on) and
    ``decision`` overrides. Every other weight of ``src`` is kept bit for bit. ``half``:
    fp16 weights (default: as ``src`` was saved)."""
    cfg, state = load_checkpoint(src)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model_flags),
                              decision=dataclasses.replace(cfg.decision, **(decision or {})))
    record = dict(state.get("extra") or {})
    half = bool(record.get("fp16")) if half is None else half
    weights = {k: v for k, v in state["model"].items() if not k.startswith(f"{prefix}.")}
    for key, value in head_state.items():
        value = value.detach().cpu()
        weights[f"{prefix}.{key}"] = value.half() if half and value.is_floating_point() \
            else value
    deployment = Deployment.from_checkpoint(cfg, state)
    deployment.model, deployment.decision = cfg.model, cfg.decision
    payload = {**state, "config": to_dict(cfg), "deployment": deployment.to_dict(),
               "model": weights, "extra": {**record, **extra}}
    return _atomic_save(payload, Path(dst))


def save_with_semantic_head(src: str | Path, dst: str | Path, head_state: dict[str, Any],
                            semantic: dict[str, Any], half: bool | None = None) -> Path:
    """``save_with_head`` for the semantic head (``extra["semantic"]``: names, held-out
    names, settings); referring answers stay the same."""
    return save_with_head(src, dst, "semantic", head_state, {"semantic_head": True},
                          {"semantic": semantic}, half=half)
