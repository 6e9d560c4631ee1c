"""Machine checks for the "Restrictions" column of the ONNX-TensorRT support matrix.

Each rule reads one node (its attributes, and which inputs are build-time constants) and
returns what breaks the restriction. An operator whose restriction has no rule here is
reported as unchecked rather than passed, so a new op in the graph cannot slip through
on a restriction nobody looked at.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import numpy_helper

from query3d.model.export.trt_support_table import TABLE

Constants = dict[str, np.ndarray]
# Restrictions that describe TensorRT's behaviour rather than reject a graph.
INFORMATIONAL = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}
REDUCE_OPS = {
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
}  # fmt: skip
# (op, input index) pairs whose value TensorRT treats as a shape.
SHAPE_OPERANDS = {
    ("Reshape", 1), ("Expand", 1), ("ConstantOfShape", 0), ("Tile", 1), ("Range", 0),
    ("Range", 1), ("Range", 2), ("Slice", 1), ("Slice", 2), ("Slice", 3), ("Slice", 4),
    ("Resize", 3), ("TopK", 1), ("OneHot", 1), ("Pad", 1),
}  # fmt: skip


def constant_values(graph: onnx.GraphProto) -> Constants:
    """Values known at build time: initializers and Constant node outputs."""
    values: Constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type != "Constant":
            continue
        for attr in node.attribute:
            if attr.name == "value":
                values[node.output[0]] = numpy_helper.to_array(attr.t)
            elif attr.name in ("value_int", "value_ints", "value_float", "value_floats"):
                values[node.output[0]] = np.asarray(onnx.helper.get_attribute_value(attr))
    return values


def shape_tensor_inputs(graph: onnx.GraphProto) -> dict[str, str]:
    """Graph inputs consumed directly as a shape operand (they would be shape tensors)."""
    inputs = {vi.name for vi in graph.input}
    found = {}
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in inputs and (node.op_type, index) in SHAPE_OPERANDS:
                found[name] = f"{node.op_type} input {index}"
    return found


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _input(node: onnx.NodeProto, index: int) -> str:
    return node.input[index] if len(node.input) > index else ""


def _must_be_constant(node: onnx.NodeProto, index: int, what: str, consts: Constants) -> list[str]:
    name = _input(node, index)
    if name and name not in consts:
        return [f"{what} ({name!r}) must be a build-time constant"]
    return []


def _scatter_nd(node, consts, ranks):
    reduction = _text(_attr(node, "reduction", "none"))
    return [] if reduction == "none" else [f"reduction {reduction!r} unsupported (only 'none')"]


def _top_k(node, consts, ranks):
    problems = [] if _attr(node, "sorted", 1) == 1 else ["sorted must be 1"]
    k = consts.get(_input(node, 1))
    if k is None:
        problems.append("K is not a build-time constant, so K < 3840 cannot be verified")
    elif int(np.asarray(k).reshape(-1)[0]) >= 3840:
        problems.append(f"K={int(np.asarray(k).reshape(-1)[0])} must be less than 3840")
    return problems


def _reduce(node, consts, ranks):
    return _must_be_constant(node, 1, "axes", consts)


def _axes_input(node, consts, ranks):
    return _must_be_constant(node, 1, "axes", consts)


def _cum_sum(node, consts, ranks):
    return _must_be_constant(node, 1, "axis", consts)


def _one_hot(node, consts, ranks):
    return _must_be_constant(node, 1, "depth", consts)


def _pool(node, consts, ranks):
    problems = []
    dilations = _attr(node, "dilations", [])
    if any(d != 1 for d in dilations):
        problems.append(f"dilations {list(dilations)} must be empty or all ones")
    kernel = _attr(node, "kernel_shape", [])
    if node.op_type in ("AveragePool", "MaxPool") and len(kernel) not in (2, 3):
        problems.append(f"{len(kernel)}D pooling; only 2D or 3D supported")
    if node.op_type == "MaxPool" and _input_or_output(node.output, 1):
        problems.append("the Indices output is unsupported")
    return problems


def _input_or_output(names, index: int) -> bool:
    return len(names) > index and bool(names[index])


def _layer_norm(node, consts, ranks):
    extra = [o for o in node.output[1:] if o]
    return [f"only output Y is supported, graph uses {extra}"] if extra else []


def _dropout(node, consts, ranks):
    name = _input(node, 2)
    if not name:
        return []
    value = consts.get(name)
    if value is None or bool(np.asarray(value).reshape(-1)[0]):
        return ["training_mode must be a constant False"]
    return []


def _constant(node, consts, ranks):
    bad = [
        a.name
        for a in node.attribute
        if a.name in ("sparse_value", "value_string", "value_strings")
    ]
    return [f"attribute {bad[0]} unsupported"] if bad else []


def _zero_point(node, consts, ranks):
    name = _input(node, 2)
    if not name:
        return []
    value = consts.get(name)
    if value is None or np.any(np.asarray(value) != 0):
        return ["zero point must be a constant zero"]
    return []


def _lstm(node, consts, ranks):
    problems = [] if _attr(node, "input_forget", 0) == 0 else ["input_forget must be 0"]
    return problems + ([] if _attr(node, "layout", 0) == 0 else ["layout must be 0"])


def _grid_sample(node, consts, ranks):
    rank = ranks.get(_input(node, 0))
    if rank is None:
        return ["input rank unknown, TensorRT needs a 4D input"]
    return [] if rank == 4 else [f"input is {rank}D; TensorRT supports 4D only"]


def _resize(node, consts, ranks):
    checks = {
        "coordinate_transformation_mode": (
            "half_pixel",
            {
                "half_pixel",
                "pytorch_half_pixel",
                "tf_half_pixel_for_nn",
                "asymmetric",
                "align_corners",
            },
        ),
        "mode": ("nearest", {"nearest", "linear"}),
        "nearest_mode": (
            "round_prefer_floor",
            {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"},
        ),
        "keep_aspect_ratio_policy": ("stretch", {"stretch"}),
    }
    problems = []
    for name, (default, allowed) in checks.items():
        value = _text(_attr(node, name, default))
        if value not in allowed:
            problems.append(f"{name}={value!r} unsupported")
    if _attr(node, "antialias", 0):
        problems.append("antialias unsupported")
    return problems


RULES: dict[str, Callable[[onnx.NodeProto, Constants, dict], list[str]]] = {
    "ScatterND": _scatter_nd,
    "TopK": _top_k,
    "Squeeze": _axes_input,
    "Unsqueeze": _axes_input,
    "CumSum": _cum_sum,
    "OneHot": _one_hot,
    "AveragePool": _pool,
    "MaxPool": _pool,
    "LpPool": _pool,
    "LayerNormalization": _layer_norm,
    "Dropout": _dropout,
    "Constant": _constant,
    "DequantizeLinear": _zero_point,
    "QuantizeLinear": _zero_point,
    "LSTM": _lstm,
    "Resize": _resize,
    "GridSample": _grid_sample,
    **{op: _reduce for op in REDUCE_OPS},
}


def _restriction_text() -> dict[str, str]:
    rows = (line.split("|") for line in TABLE.strip().splitlines())
    return {row[0]: row[3].strip() for row in rows if row[3].strip()}


RESTRICTED = _restriction_text()


def restriction_violations(node: onnx.NodeProto, consts: Constants, ranks: dict) -> list[str]:
    """Messages for each restriction of ``node``'s operator that the node breaks."""
    rule = RULES.get(node.op_type)
    if rule is not None:
        return rule(node, consts, ranks)
    if node.op_type in RESTRICTED and node.op_type not in INFORMATIONAL:
        return [f"restriction not machine-checked here: {RESTRICTED[node.op_type]}"]
    return []
