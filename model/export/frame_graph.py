"""The MR-COSMO frame graph behind flat named tensors: what ONNX sees and every backend runs.

``MRCosmo.forward`` takes a ``FrameInputs`` and ``TextFeatures``; an exported graph takes
a flat, ordered list of tensors. ``FrameGraph`` is the one adapter between the two, used
for export and by the torch backend, so the backends are compared on identical inputs
and outputs. The dynamic axes are named here once: N points, V<s> voxels per scale, G/GS
attention groups (plain / shifted windows), C cameras, T text tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from query3d.config import ModelConfig
from query3d.model.deployment import Deployment
from query3d.model.encoders import TextFeatures
from query3d.model.encoders.text import resolve_text_folder
from query3d.model.export.onnx_export import DEFAULT_OPSET, export_onnx
from query3d.model.preprocess import FrameInputs

TEXT_INPUTS = ("text_tokens", "text_mask", "text_pooled")
PHRASE_INPUTS = ("text_phrases", "text_relation")  # a scorer that reads relations


def frame_graph_input_names(num_scales: int, with_images: bool,
                            with_superpoints: bool = False,
                            with_phrases: bool = False) -> list[str]:
    return (FrameInputs.tensor_names(num_scales, with_images, with_superpoints)
            + list(TEXT_INPUTS) + (list(PHRASE_INPUTS) if with_phrases else []))


def frame_dynamic_axes(names: Sequence[str]) -> dict[str, dict[int, str]]:
    """Symbolic dimensions of every graph input; unknown names raise (a new FrameInputs
    field must be given its axes here, not silently exported at a fixed size)."""
    fixed = {
        "xyz": {0: "N"},
        "origin": {},
        "rgb": {0: "N"},
        "knn": {0: "N"},
        "kmap": {0: "V0"},
        "win_groups": {0: "G"},
        "win_inverse": {0: "V0"},
        "win_groups_shifted": {0: "GS"},
        "win_inverse_shifted": {0: "V0"},
        "seeds": {},  # always cfg.num_seeds long (the runtime repeats seeds of tiny clouds)
        "images": {0: "C"},
        "pix_uv": {0: "N", 1: "C"},
        "pix_valid": {0: "N", 1: "C"},
        "superpoint": {0: "N"},
        "superpoint_members": {0: "S"},
        "text_tokens": {1: "T"},
        "text_mask": {1: "T"},
        "text_pooled": {},
        "text_phrases": {},
        "text_relation": {},
    }
    per_scale = {"voxel_coords": 0, "voxel_center": 0, "voxel_members": 0, "point2voxel": None}
    axes: dict[str, dict[int, str]] = {}
    for name in names:
        stem, _, scale = name.rpartition("_")
        if name in fixed:
            axes[name] = dict(fixed[name])
        elif stem in per_scale and scale.isdigit():
            axes[name] = {0: "N"} if per_scale[stem] is None else {0: f"V{scale}"}
        else:
            raise ValueError(f"graph input {name!r} has no dynamic-axis rule in frame_graph.py")
    return {k: v for k, v in axes.items() if v}


def pad_seeds(seeds: torch.Tensor, count: int) -> torch.Tensor:
    """Seeds of exactly ``count`` entries: a cloud with fewer points than ``num_seeds``
    repeats its seeds, so the graph's seed axis stays fixed (the network branches on it)."""
    if seeds.numel() == 0:
        raise ValueError("frame has no seeds")
    if seeds.shape[0] >= count:
        return seeds[:count]
    return seeds.repeat(-(-count // seeds.shape[0]))[:count]


def graph_inputs(frame: FrameInputs, text: TextFeatures, num_seeds: int) -> dict[str, torch.Tensor]:
    """Named graph inputs for one frame and one query (text batch of one)."""
    tensors = frame.as_dict()
    tensors["seeds"] = pad_seeds(tensors["seeds"], num_seeds)
    tensors["text_tokens"] = text.tokens[:1]
    tensors["text_mask"] = text.mask[:1]
    tensors["text_pooled"] = text.pooled[:1]
    if text.phrases is not None and text.relation is not None:
        tensors["text_phrases"] = text.phrases[0]
        tensors["text_relation"] = text.relation[:1]
    return tensors


def split_named(named: dict[str, torch.Tensor]) -> tuple[FrameInputs, TextFeatures]:
    """Named graph inputs -> (frame, text); ``named`` keeps neither."""
    phrases = named.pop("text_phrases", None)
    text = TextFeatures(tokens=named.pop("text_tokens"), mask=named.pop("text_mask"),
                        pooled=named.pop("text_pooled"),
                        phrases=None if phrases is None else phrases[None],
                        relation=named.pop("text_relation", None))
    return FrameInputs.from_dict(named), text


class NewestEncoding:
    """The text-free encoders' output (``encode_frame``) of the newest frame, keyed by the
    cloud's fingerprint. One instance serves the torch graph's commands and the semantic
    labeller, so a cloud is encoded once whichever asks first."""

    def __init__(self) -> None:
        self._entry: tuple[str, Any] | None = None  # (frame key, its FrameEncoding)

    def __call__(self, net: nn.Module, frame: FrameInputs, frame_key: str) -> Any:
        if self._entry is None or self._entry[0] != frame_key:
            self._entry = (frame_key, net.encode_frame(frame))
        return self._entry[1]


class FrameGraph(nn.Module):
    """``net.forward`` on flat positional tensors, returning ``output_names`` in order.
    ``encodings``: where ``run_cached`` keeps the newest frame's encoding (shared with
    whoever else encodes the same clouds)."""

    def __init__(self, net: nn.Module, input_names: Sequence[str], output_names: Sequence[str],
                 encodings: NewestEncoding | None = None):
        super().__init__()
        self.net = net
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.encodings = encodings if encodings is not None else NewestEncoding()

    def _split(self, tensors: Sequence[torch.Tensor]) -> tuple[FrameInputs, TextFeatures]:
        return split_named(dict(zip(self.input_names, tensors)))

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        frame, text = self._split(tensors)
        out = self.net(frame, text)
        return tuple(out[name] for name in self.output_names)

    def run_cached(self, tensors: Sequence[torch.Tensor], frame_key: str
                   ) -> tuple[torch.Tensor, ...]:
        """``forward``, reusing the text-free encoders' output while ``frame_key`` (the
        cloud's fingerprint) stays the same: a second command on a cloud runs only the
        text-dependent part. Only the newest frame is kept."""
        frame, text = self._split(tensors)
        if getattr(self.net, "encode_frame", None) is None:
            out = self.net(frame, text)
        else:
            out = self.net(frame, text, encoding=self.encodings(self.net, frame, frame_key))
        return tuple(out[name] for name in self.output_names)


def text_encoder_identity(cfg: ModelConfig) -> dict[str, Any]:
    """Which text encoder the graph's text inputs must come from (checked when loading):
    its folder name and a hash of its weights, so features from another encoder of the
    same width are refused instead of silently mis-read."""
    folder = resolve_text_folder(cfg.text_encoder)
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    digest = hashlib.sha256()
    for path in weights:
        digest.update(path.read_bytes())
    return {
        "config_value": cfg.text_encoder,
        "folder_name": folder.name,
        "weights_sha256": digest.hexdigest() if weights else "",
        "text_dim": cfg.text_dim,
        "max_text_tokens": cfg.max_text_tokens,
        "frozen": cfg.freeze_text,
    }


def graph_metadata(deployment: Deployment, example: Mapping[str, torch.Tensor],
                   extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a served graph needs to know besides its weights: the deployment record, the
    text encoder its text inputs must come from, whether it reads camera images."""
    return {
        "deployment": deployment.to_dict(),
        "text_encoder": text_encoder_identity(deployment.model),
        "with_images": "images" in example,
        **(extra or {}),
    }


def export_frame_graph(
    net: nn.Module,
    deployment: Deployment,
    example: Mapping[str, torch.Tensor],
    path: str | Path,
    output_names: Sequence[str],
    opset: int = DEFAULT_OPSET,
    extra_metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Export ``net`` (eval mode) on ``example`` (``graph_inputs`` of one frame) to ONNX
    with its deployment record (network sections, training density, class names) and
    text-encoder identity in the metadata."""
    names = list(example)
    graph = FrameGraph(net.eval(), names, output_names)
    metadata = graph_metadata(deployment, example, extra_metadata)
    return export_onnx(
        graph, example, list(output_names), frame_dynamic_axes(names), path, opset, metadata
    )
