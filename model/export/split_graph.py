"""The frame graph in two parts: the text-free encoders, once per cloud, and the rest, once
per command.

The point, voxel and image encoders (and the semantic head's superpoint embeddings the
slot scorer reads) do not depend on the sentence. Exported as their own graph, their
outputs are kept while the cloud stays the same and fed to the second graph, which runs
DCMA onwards: a second command on a cloud costs only the text-dependent part, in ONNX
Runtime as in torch (``FrameGraph.run_cached``). Both graphs take the frame's tensors
under the names of the whole graph; the encoding travels as ``enc_*`` tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from query3d.model.alignment.dcma import ImageEvidence
from query3d.model.deployment import Deployment
from query3d.model.encoders.cloud import PointCloudFeatures
from query3d.model.export.frame_graph import (
    FrameGraph,
    frame_dynamic_axes,
    graph_metadata,
    split_named,
)
from query3d.model.export.onnx_export import DEFAULT_OPSET, export_onnx
from query3d.model.preprocess import FrameInputs

IMAGE_ENCODING = ("enc_image_global", "enc_image_point", "enc_image_visible")


def split_paths(path: str | Path) -> tuple[Path, Path]:
    """(encoder graph, text graph) files that stand for the whole graph at ``path``."""
    path = Path(path)
    stem = path.name.removesuffix(".onnx")
    return path.with_name(f"{stem}.encoder.onnx"), path.with_name(f"{stem}.text.onnx")


def encoder_beside(text_path: str | Path) -> Path | None:
    """The encoder graph of a split graph's text part, or None for a whole graph."""
    path = Path(text_path)
    if not path.name.endswith(".text.onnx"):
        return None
    return split_paths(path.with_name(path.name.removesuffix(".text.onnx") + ".onnx"))[0]


def encoding_names(num_scales: int, with_images: bool, with_semantic: bool,
                   with_context: bool = False) -> list[str]:
    names = ["enc_point"] + [f"enc_voxel_{s}" for s in range(num_scales)]
    if with_context:
        names.append("enc_point_context")
    if with_images:
        names += list(IMAGE_ENCODING)
    if with_semantic:
        names.append("enc_semantic")
    return names


def encoding_axes(names: Sequence[str]) -> dict[str, dict[int, str]]:
    """The encoding's dynamic axes, named like the frame's (one point axis N, ...)."""
    axes: dict[str, dict[int, str]] = {}
    for name in names:
        if name.startswith("enc_voxel_"):
            axes[name] = {0: f"V{name.rpartition('_')[2]}"}
        elif name in ("enc_point", "enc_point_context", "enc_image_point",
                      "enc_image_visible"):
            axes[name] = {0: "N"}
        elif name == "enc_semantic":
            axes[name] = {0: "S"}
        elif name != "enc_image_global":
            raise ValueError(f"encoding tensor {name!r} has no dynamic-axis rule")
    return axes


def flatten_encoding(encoding: Any, names: Sequence[str]) -> list[torch.Tensor]:
    """``FrameEncoding`` -> tensors in ``names`` order."""
    cloud, evidence = encoding.cloud, encoding.evidence
    values = {"enc_point": cloud.point, "enc_semantic": encoding.semantic,
              "enc_point_context": encoding.point_context}
    values.update({f"enc_voxel_{s}": v for s, v in enumerate(cloud.voxel)})
    if evidence is not None:
        values.update(enc_image_global=evidence.global_feat, enc_image_point=evidence.point_feat,
                      enc_image_visible=evidence.point_visible)
    missing = [n for n in names if values.get(n) is None]
    if missing:
        raise ValueError(f"the frame's encoding has no {missing}")
    return [values[n] for n in names]


def unflatten_encoding(named: Mapping[str, torch.Tensor]) -> Any:
    """Tensors named by ``encoding_names`` -> ``FrameEncoding``."""
    from query3d.model.mrcosmo import FrameEncoding

    scales = sorted(int(n.rpartition("_")[2]) for n in named if n.startswith("enc_voxel_"))
    cloud = PointCloudFeatures(named["enc_point"], [named[f"enc_voxel_{s}"] for s in scales])
    evidence = None
    if "enc_image_global" in named:
        evidence = ImageEvidence(named["enc_image_global"], named["enc_image_point"],
                                 named["enc_image_visible"])
    return FrameEncoding(cloud, evidence, named.get("enc_semantic"),
                         named.get("enc_point_context"))


class EncoderGraph(nn.Module):
    """Frame tensors -> the encoding tensors ``names``."""

    def __init__(self, net: nn.Module, input_names: Sequence[str], names: Sequence[str]):
        super().__init__()
        self.net, self.input_names, self.names = net, list(input_names), list(names)

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        frame = FrameInputs.from_dict(dict(zip(self.input_names, tensors)))
        encoding = self.net.encode_frame(frame)
        if "enc_semantic" in self.names:
            self.net.superpoint_semantics(frame, encoding)
        return tuple(flatten_encoding(encoding, self.names))


class TextGraph(FrameGraph):
    """Frame tensors, encoding tensors and text -> the graph's outputs."""

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        named = dict(zip(self.input_names, tensors))
        encoding = unflatten_encoding({n: named.pop(n) for n in list(named)
                                       if n.startswith("enc_")})
        frame, text = split_named(named)
        out = self.net(frame, text, encoding=encoding)
        return tuple(out[name] for name in self.output_names)


def export_split_graphs(net: nn.Module, deployment: Deployment,
                        example: Mapping[str, torch.Tensor], path: str | Path,
                        output_names: Sequence[str], opset: int = DEFAULT_OPSET,
                        extra_metadata: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Export ``net`` as the encoder and text graphs of ``split_paths(path)``; the text
    graph carries the metadata of a whole graph (``export_frame_graph``)."""
    net = net.eval()
    cfg = deployment.model
    encoder_path, text_path = split_paths(path)
    frame_names = [n for n in example if not n.startswith("text_")]
    enc_names = encoding_names(len(cfg.voxel_scales), "images" in example,
                               getattr(net, "slot_scorer", None) is not None,
                               net.dcma.enabled)
    encoder = EncoderGraph(net, frame_names, enc_names)
    frame_example = {n: example[n] for n in frame_names}
    metadata = graph_metadata(deployment, example, extra_metadata)
    export_onnx(encoder, frame_example, enc_names, frame_dynamic_axes(frame_names),
                encoder_path, opset, {**metadata, "part": "encoder"})
    with torch.no_grad():
        encoded = dict(zip(enc_names, encoder(*frame_example.values())))
    text_example = {**encoded, **example}
    names = list(text_example)
    axes = {**encoding_axes(enc_names), **frame_dynamic_axes(list(example))}
    export_onnx(TextGraph(net, names, output_names), text_example, list(output_names), axes,
                text_path, opset, {**metadata, "part": "text",
                                   "encoding": enc_names})
    return encoder_path, text_path
