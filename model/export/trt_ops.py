"""Static check of an ONNX graph against what the ONNX-TensorRT parser accepts.

TensorRT's libraries cannot be installed on our development, CI or test machines, so the
only way to know there that an exported graph will build is to compare every node with
the parser's published support matrix (``trt_support_table``): operator, data type and
the attribute restrictions, plus what optimisation profiles can express for dynamic
shapes. A problem list that is empty is the precondition for ``build_engine``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto

from query3d.model.export import trt_rules
from query3d.model.export.trt_support_table import (
    GRAPH_TYPES,
    OPSET_MAX,
    OPSET_MIN,
    SOURCE,
    TABLE,
)

# ONNX element type -> the names used by the support matrix.
ONNX_TYPE_NAMES = {
    TensorProto.FLOAT: "FP32",
    TensorProto.FLOAT16: "FP16",
    TensorProto.BFLOAT16: "BF16",
    TensorProto.DOUBLE: "DOUBLE",
    TensorProto.INT8: "INT8",
    TensorProto.UINT8: "UINT8",
    TensorProto.INT16: "INT16",
    TensorProto.UINT16: "UINT16",
    TensorProto.INT32: "INT32",
    TensorProto.UINT32: "UINT32",
    TensorProto.INT64: "INT64",
    TensorProto.UINT64: "UINT64",
    TensorProto.BOOL: "BOOL",
    TensorProto.STRING: "STRING",
    TensorProto.COMPLEX64: "COMPLEX64",
    TensorProto.COMPLEX128: "COMPLEX128",
}
STANDARD_DOMAINS = ("", "ai.onnx")
# Dimension ranges keyed by symbolic dimension name: (min, opt, max).
DimProfile = Mapping[str, tuple[int, int, int]]


@dataclass(frozen=True)
class OpSupport:
    name: str
    supported: bool
    types: tuple[str, ...]
    restrictions: str


@dataclass(frozen=True)
class TrtProblem:
    """One reason TensorRT would reject (or silently change) the graph."""

    where: str  # node name, or "input <name>" / "model"
    op_type: str
    message: str

    def __str__(self) -> str:
        return f"{self.where} ({self.op_type}): {self.message}"


@functools.lru_cache(maxsize=1)
def supported_operators() -> dict[str, OpSupport]:
    """The support matrix parsed from ``trt_support_table.TABLE``."""
    table: dict[str, OpSupport] = {}
    for line in TABLE.strip().splitlines():
        name, flag, types, restrictions = (part.strip() for part in line.split("|", 3))
        kinds = tuple(t for t in types.split(",") if t)
        table[name] = OpSupport(name, flag == "Y", kinds, restrictions)
    return table


def _walk(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node, including those inside If/Loop/Scan bodies."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk(attr.g)
            for sub in attr.graphs:
                yield from _walk(sub)


def _value_types(model: onnx.ModelProto) -> tuple[dict[str, int], dict[str, int]]:
    """Element type and rank of every value whose type shape inference could tell."""
    types: dict[str, int] = {}
    ranks: dict[str, int] = {}
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
            if vi.type.HasField("tensor_type"):
                types[vi.name] = vi.type.tensor_type.elem_type
                if vi.type.tensor_type.HasField("shape"):
                    ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
        for init in graph.initializer:
            types[init.name] = init.data_type
            ranks[init.name] = len(init.dims)
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        types[node.output[0]] = attr.t.data_type
            for attr in node.attribute:
                graphs.extend([attr.g] if attr.type == onnx.AttributeProto.GRAPH else attr.graphs)
    return types, ranks


def _primary_inputs(node: onnx.NodeProto, opset: int) -> list[str]:
    """Inputs whose type is the one the matrix's "Supported Types" column talks about."""
    if node.op_type == "ConstantOfShape":
        return []  # its input is a shape; the column is about the output
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, "")
    except onnx.defs.SchemaError:
        return list(node.input[:1])
    params = [inp.type_str for inp in schema.inputs]
    main = "T" if "T" in params else (params[0] if params else None)
    names = []
    for i, name in enumerate(node.input):
        param = params[min(i, len(params) - 1)] if params else None
        if name and param == main:
            names.append(name)
    return names


def _check_types(
    node: onnx.NodeProto, where: str, spec: OpSupport, types: dict[str, int], opset: int
) -> list[TrtProblem]:
    problems = []
    checked = {n: types[n] for n in _primary_inputs(node, opset) if n in types}
    if node.op_type == "ConstantOfShape" and node.output[0] in types:
        checked[node.output[0]] = types[node.output[0]]
    if node.op_type == "Cast":
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if to is not None:
            checked[f"{node.output[0]} (to)"] = to
    bad = []
    for name, elem in checked.items():
        kind = ONNX_TYPE_NAMES.get(elem, f"type#{elem}")
        if kind not in spec.types:
            bad.append(f"{name!r} is {kind}")
    if bad:
        problems.append(
            TrtProblem(
                where,
                node.op_type,
                f"{', '.join(bad)}; TensorRT supports {node.op_type} on "
                f"{', '.join(spec.types)} only",
            )
        )
    return problems


def _check_inputs(graph: onnx.GraphProto, profile: DimProfile | None) -> list[TrtProblem]:
    problems = []
    initializers = {init.name for init in graph.initializer}
    shape_slots = trt_rules.shape_tensor_inputs(graph)
    for vi in graph.input:
        if vi.name in initializers:
            continue
        where = f"input {vi.name}"
        tensor = vi.type.tensor_type
        kind = ONNX_TYPE_NAMES.get(tensor.elem_type, f"type#{tensor.elem_type}")
        if kind not in GRAPH_TYPES or kind == "INT8":
            problems.append(TrtProblem(where, "input", f"type {kind} is not a TensorRT I/O type"))
        if vi.name in shape_slots:
            problems.append(
                TrtProblem(
                    where,
                    "input",
                    f"feeds the shape operand of {shape_slots[vi.name]}: a shape-tensor input "
                    "needs per-value profiles, which the engine builder here does not set",
                )
            )
        if not tensor.HasField("shape"):
            problems.append(TrtProblem(where, "input", "unknown rank: TensorRT needs the rank"))
            continue
        for axis, dim in enumerate(tensor.shape.dim):
            if dim.HasField("dim_value"):
                continue
            if not dim.dim_param:
                problems.append(
                    TrtProblem(where, "input", f"axis {axis} is dynamic but has no name")
                )
            elif profile is not None and dim.dim_param not in profile:
                problems.append(
                    TrtProblem(
                        where,
                        "input",
                        f"dynamic axis {axis} ({dim.dim_param!r}) is not covered by the "
                        f"optimisation profile (profile covers {sorted(profile)})",
                    )
                )
    for name, (lo, opt, hi) in (profile or {}).items():
        if not 0 < lo <= opt <= hi:
            problems.append(
                TrtProblem("profile", name, f"needs 0 < min <= opt <= max, got {lo, opt, hi}")
            )
    for vi in graph.output:
        kind = ONNX_TYPE_NAMES.get(vi.type.tensor_type.elem_type, "?")
        if kind not in GRAPH_TYPES or kind == "INT8":
            problems.append(
                TrtProblem(f"output {vi.name}", "output", f"{kind} is not a TensorRT I/O type")
            )
    return problems


def check_tensorrt_compatibility(
    model: onnx.ModelProto | str | Path, profile: DimProfile | None = None
) -> list[TrtProblem]:
    """Everything in ``model`` the TensorRT 10 ONNX parser would reject or change.

    ``profile`` maps each symbolic input dimension to (min, opt, max); when given, every
    dynamic input dimension must appear in it.
    """
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    opset = next((o.version for o in model.opset_import if o.domain in STANDARD_DOMAINS), 0)
    problems: list[TrtProblem] = []
    if not OPSET_MIN <= opset <= OPSET_MAX:
        problems.append(
            TrtProblem(
                "model", "opset", f"opset {opset} outside {OPSET_MIN}-{OPSET_MAX} ({SOURCE})"
            )
        )
    for function in model.functions:
        problems.append(
            TrtProblem("model", function.name, f"local function in domain {function.domain!r}")
        )
    table = supported_operators()
    types, ranks = _value_types(model)
    constants = trt_rules.constant_values(model.graph)
    for index, node in enumerate(_walk(model.graph)):
        where = node.name or f"node#{index}"
        if node.domain not in STANDARD_DOMAINS:
            problems.append(
                TrtProblem(where, node.op_type, f"custom domain {node.domain!r} needs a plugin")
            )
            continue
        spec = table.get(node.op_type)
        if spec is None or not spec.supported:
            state = "not in" if spec is None else "marked unsupported in"
            problems.append(TrtProblem(where, node.op_type, f"operator {state} {SOURCE}"))
            continue
        problems.extend(_check_types(node, where, spec, types, opset))
        for message in trt_rules.restriction_violations(node, constants, ranks):
            problems.append(TrtProblem(where, node.op_type, message))
    problems.extend(_check_inputs(model.graph, profile))
    return problems
