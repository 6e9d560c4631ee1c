"""Export a torch module with named tensor inputs to a checked, self-describing ONNX file.

Exporter choice: torch.export + ``torch.onnx.export(dynamo=True)`` (onnxscript), not the
TorchScript tracer. The tracer records Python integers derived from shapes as constants
and only emits a ``TracerWarning`` (which torch's own modules also raise, so it cannot be
turned into an error), so a graph traced at N points can silently compute with the wrong
N elsewhere. torch.export keeps shapes symbolic: every dimension in ``dynamic_axes``
becomes a bounded ``torch.export.Dim`` and a model that specialises one raises a
constraint violation, so wrong dynamic shapes fail the export instead of the robot. We
call ``torch.export.export`` ourselves because ``torch.onnx.export`` given ``Dim``s
narrows their ranges instead of raising (checked on torch 2.13). It is also the exporter
PyTorch maintains (the tracer is deprecated since 2.9). Its cost: the ``onnxscript``
dependency, a slower export, and opset 18 as the lowest it emits natively (a lower
request goes through a version converter that may fail; we then fail loudly).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import onnx
import torch

from query3d.model.export.lowering import lower_for_onnx

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: a deployment record instead of the whole config
METADATA_PREFIX = "query3d."
DEFAULT_OPSET = 18
STANDARD_DOMAINS = ("", "ai.onnx")
# dynamic_axes: input name -> {axis: symbolic dimension name}; a name shared by several
# inputs is one dimension (e.g. the point count N of coordinates and colours).
DynamicAxes = Mapping[str, Mapping[int, str]]
# Explicit bounds matter: an unbounded Dim lets torch.export narrow the range silently when
# the model branches on the size (a graph valid only for N > 300 exports "fine"); with
# bounds, any such guard is a constraint violation and the export fails.
MIN_DIM, MAX_DIM = 2, 1 << 28


class ExportError(RuntimeError):
    """The module could not be exported to a graph we can ship."""


def _dynamic_shapes(
    example_inputs: Mapping[str, torch.Tensor], dynamic_axes: DynamicAxes
) -> tuple[dict[int, Any] | None, ...]:
    unknown = sorted(set(dynamic_axes) - set(example_inputs))
    if unknown:
        raise ValueError(f"dynamic_axes names inputs that do not exist: {unknown}")
    dims: dict[str, torch.export.Dim] = {}
    shapes = []
    for name, tensor in example_inputs.items():
        axes = dynamic_axes.get(name, {})
        for axis, dim_name in axes.items():
            if not -tensor.dim() <= axis < tensor.dim():
                raise ValueError(f"dynamic axis {axis} of {name!r} (rank {tensor.dim()})")
            if tensor.shape[axis] < 2:
                raise ValueError(
                    f"example {name!r} has size {tensor.shape[axis]} on dynamic axis {axis}; "
                    "torch.export specialises sizes 0 and 1, use an example with >= 2"
                )
            if not dim_name.isidentifier():
                raise ValueError(f"dimension name {dim_name!r} must be an identifier")
            dims.setdefault(dim_name, torch.export.Dim(dim_name, min=MIN_DIM, max=MAX_DIM))
        shapes.append({axis % tensor.dim(): dims[d] for axis, d in axes.items()} or None)
    return tuple(shapes)


def _match_signature(module: torch.nn.Module, shapes: tuple) -> tuple:
    """torch.export wants dynamic_shapes shaped like forward's parameters: a module taking
    ``*tensors`` gets all shapes inside one tuple."""
    params = list(inspect.signature(module.forward).parameters.values())
    if len(params) == 1 and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return (shapes,)
    return shapes


def _name_dynamic_dims(model: onnx.ModelProto, dynamic_axes: DynamicAxes) -> None:
    """Give torch.export's symbols (s17, 16*s11) the names of ``dynamic_axes`` (N, 16*G).

    Also the last guard on dynamic shapes: a declared axis that came out as a fixed size
    was specialised by the model and the export is refused.
    """
    renames: dict[str, str] = {}
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        for axis, name in dynamic_axes.get(vi.name, {}).items():
            dim = dims[axis]
            if not dim.dim_param:
                raise ExportError(
                    f"input {vi.name!r} axis {axis} ({name}) was exported with fixed size "
                    f"{dim.dim_value}: the model specialises that dimension"
                )
            if renames.setdefault(dim.dim_param, name) != name:
                raise ExportError(
                    f"dimensions {renames[dim.dim_param]!r} and {name!r} were unified by "
                    "torch.export: the model requires them equal; give them one name"
                )
    if not renames:
        return
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
    values = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    for vi in values:
        for dim in vi.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = pattern.sub(lambda m: renames[m.group(1)], dim.dim_param)


def check_standard_ops(model: onnx.ModelProto) -> None:
    """Raise ExportError if any node is outside the standard ONNX operator set."""
    opset = {o.domain: o.version for o in model.opset_import}
    version = opset.get("", opset.get("ai.onnx", 0))
    bad = []
    stack = [model.graph]
    while stack:
        graph = stack.pop()
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                bad.append(f"{node.op_type} (domain {node.domain!r})")
            elif not onnx.defs.has(node.op_type, version, ""):
                bad.append(f"{node.op_type} (not an ONNX opset {version} operator)")
            for attr in node.attribute:
                stack.extend([attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs)
    bad += [f"local function {f.domain}::{f.name}" for f in model.functions]
    if bad:
        raise ExportError(
            "the exported graph leaves standard ONNX (no ATen fallback or custom domains "
            f"allowed): {sorted(set(bad))}"
        )


def _write_metadata(model: onnx.ModelProto, entries: Mapping[str, Any]) -> None:
    del model.metadata_props[:]
    for key, value in entries.items():
        prop = model.metadata_props.add()
        prop.key = METADATA_PREFIX + key
        prop.value = json.dumps(value, sort_keys=True)


def read_onnx_metadata(model: onnx.ModelProto | str | Path) -> dict[str, Any]:
    """The ``query3d.*`` metadata written by ``export_onnx`` (JSON-decoded)."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    out = {}
    for prop in model.metadata_props:
        if prop.key.startswith(METADATA_PREFIX):
            out[prop.key[len(METADATA_PREFIX) :]] = json.loads(prop.value)
    if out.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"ONNX metadata format_version {out.get('format_version')!r}; this build reads "
            f"{FORMAT_VERSION} (re-export with this version of query3d)"
        )
    return out


def export_onnx(
    module: torch.nn.Module,
    example_inputs: Mapping[str, torch.Tensor],
    output_names: Sequence[str],
    dynamic_axes: DynamicAxes,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Export ``module(*example_inputs.values())`` (returning a tuple of tensors named
    ``output_names``) to ``path``; graph inputs are named and ordered like ``example_inputs``.

    Raises ExportError when the exporter fails, the graph uses anything outside standard
    ONNX, the requested opset could not be honoured, or the checker rejects the model.
    """
    path = Path(path)
    if opset < 17:
        raise ValueError(f"opset {opset}: query3d graphs need opset >= 17")
    names = list(example_inputs)
    shapes = _dynamic_shapes(example_inputs, dynamic_axes)
    module = module.eval()
    start = time.perf_counter()
    args = tuple(example_inputs[n] for n in names)
    try:
        # torch.export first, on its own: handed a Dim, torch.onnx.export narrows ranges
        # instead of raising, so a size-specialised graph would pass unnoticed.
        with torch.no_grad():
            exported = torch.export.export(
                module, args, dynamic_shapes=_match_signature(module, shapes), strict=False
            )
            program = torch.onnx.export(
                lower_for_onnx(exported),
                input_names=names,
                output_names=list(output_names),
                opset_version=opset,
                dynamo=True,
                external_data=False,
                optimize=True,
                verbose=False,
            )
    except Exception as exc:  # the exporters raise many kinds; all mean "not exportable"
        raise ExportError(f"torch.onnx.export failed: {type(exc).__name__}: {exc}") from exc
    model = program.model_proto
    got = next((o.version for o in model.opset_import if o.domain in STANDARD_DOMAINS), None)
    if got != opset:
        raise ExportError(f"asked for opset {opset}, the exporter produced opset {got}")
    check_standard_ops(model)
    exported_inputs = [vi.name for vi in model.graph.input]
    if exported_inputs != names:
        raise ExportError(
            f"graph inputs {exported_inputs} differ from {names}: an input the module does "
            "not use was dropped, or renamed"
        )
    _name_dynamic_dims(model, dynamic_axes)
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    entries = {
        "format_version": FORMAT_VERSION,
        "input_names": names,
        "output_names": list(output_names),
        "dynamic_axes": {k: {str(a): d for a, d in v.items()} for k, v in dynamic_axes.items()},
        "exporter": f"torch {torch.__version__} dynamo, onnx {onnx.__version__}",
        **(metadata or {}),
    }
    _write_metadata(model, entries)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the graph: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    log.info(
        "exported %s in %.1f s (%.1f MB, opset %d)",
        path,
        time.perf_counter() - start,
        path.stat().st_size / 1e6,
        opset,
    )
    return path
