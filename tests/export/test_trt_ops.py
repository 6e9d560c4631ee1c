"""check_tensorrt_compatibility: hand-built graphs that must fail, real exports that pass."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from conftest import TOY_PROFILE, make_inputs
from onnx import TensorProto, helper, numpy_helper

from query3d.model.export.onnx_export import export_onnx
from query3d.model.export.trt_ops import check_tensorrt_compatibility, supported_operators


def model_of(nodes, inputs, outputs, initializers=(), opset=18):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def tensor(name, elem=TensorProto.FLOAT, shape=("N", 8)):
    return helper.make_tensor_value_info(name, elem, list(shape))


def messages(problems):
    return " | ".join(str(p) for p in problems)


def test_table_is_the_tensorrt_10_matrix():
    table = supported_operators()
    assert len(table) > 180
    assert table["MatMul"].supported and table["MatMul"].types == ("FP32", "FP16", "BF16")
    assert not table["Unique"].supported
    assert "reduction" in table["ScatterND"].restrictions


def test_supported_graph_passes():
    weight = numpy_helper.from_array(np.ones((8, 4), np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Relu", ["h"], ["y"]),
    ]
    model = model_of(nodes, [tensor("x")], [tensor("y", shape=("N", 4))], [weight])
    assert check_tensorrt_compatibility(model, {"N": (1, 100, 1000)}) == []


def test_unsupported_operator_fails():
    model = model_of(
        [helper.make_node("Unique", ["x"], ["y"])],
        [tensor("x", shape=("N",))],
        [tensor("y", shape=("U",))],
    )
    problems = check_tensorrt_compatibility(model, {"N": (1, 100, 1000)})
    assert [p.op_type for p in problems] == ["Unique"]
    assert "unsupported" in problems[0].message


def test_custom_domain_and_unknown_op_fail():
    node = helper.make_node("Voxelize", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph([node], "g", [tensor("x")], [tensor("y")])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)]
    )
    assert "custom domain" in messages(check_tensorrt_compatibility(model))


def test_unsupported_types_fail():
    double_in = model_of(
        [helper.make_node("Relu", ["x"], ["y"])],
        [tensor("x", TensorProto.DOUBLE)],
        [tensor("y", TensorProto.DOUBLE)],
    )
    text = messages(check_tensorrt_compatibility(double_in, {"N": (1, 2, 3)}))
    assert "DOUBLE" in text and "input x" in text
    int_matmul = model_of(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        [tensor("a", TensorProto.INT64), tensor("b", TensorProto.INT64, (8, 2))],
        [tensor("y", TensorProto.INT64, ("N", 2))],
    )
    assert "INT64" in messages(check_tensorrt_compatibility(int_matmul, {"N": (1, 2, 3)}))
    bool_nonzero = model_of(
        [helper.make_node("NonZero", ["m"], ["idx"])],
        [tensor("m", TensorProto.BOOL, ("N",))],
        [tensor("idx", TensorProto.INT64, (1, "K"))],
    )
    assert "BOOL" in messages(check_tensorrt_compatibility(bool_nonzero, {"N": (1, 2, 3)}))
    cast_double = model_of(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.DOUBLE)],
        [tensor("x")],
        [tensor("y", TensorProto.DOUBLE)],
    )
    assert "(to)" in messages(check_tensorrt_compatibility(cast_double, {"N": (1, 2, 3)}))


def _scatter_nd(reduction):
    return model_of(
        [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction=reduction)],
        [tensor("x"), tensor("i", TensorProto.INT64, ("M", 1)), tensor("u", shape=("M", 8))],
        [tensor("y")],
    )


def test_attribute_restrictions():
    profile = {"N": (1, 2, 3), "M": (1, 2, 3)}
    assert check_tensorrt_compatibility(_scatter_nd("none"), profile) == []
    assert "reduction 'add'" in messages(check_tensorrt_compatibility(_scatter_nd("add"), profile))

    def top_k(k_value=None, sorted_=1):
        inits = [numpy_helper.from_array(np.array([k_value], np.int64), "k")] if k_value else []
        inputs = [tensor("x", shape=("N",))] + (
            [] if k_value else [tensor("k", TensorProto.INT64, (1,))]
        )
        node = helper.make_node("TopK", ["x", "k"], ["v", "i"], sorted=sorted_)
        outs = [tensor("v", shape=("K",)), tensor("i", TensorProto.INT64, ("K",))]
        return model_of([node], inputs, outs, inits)

    assert check_tensorrt_compatibility(top_k(16), {"N": (16, 20, 30)}) == []
    assert "less than 3840" in messages(check_tensorrt_compatibility(top_k(5000), {"N": (1, 2, 3)}))
    assert "sorted" in messages(
        check_tensorrt_compatibility(top_k(16, sorted_=0), {"N": (1, 2, 3)})
    )
    dynamic_k = messages(check_tensorrt_compatibility(top_k(None), {"N": (1, 2, 3)}))
    assert "K is not a build-time constant" in dynamic_k and "shape operand" in dynamic_k


def test_reduce_with_runtime_axes_fails():
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"])
    model = model_of(
        [node],
        [tensor("x"), tensor("axes", TensorProto.INT64, (1,))],
        [tensor("y", shape=("N", 1))],
    )
    assert "axes" in messages(check_tensorrt_compatibility(model, {"N": (1, 2, 3)}))


def test_dynamic_shapes_must_be_named_and_covered():
    model = model_of([helper.make_node("Relu", ["x"], ["y"])], [tensor("x")], [tensor("y")])
    assert "not covered" in messages(check_tensorrt_compatibility(model, {"V": (1, 2, 3)}))
    assert "min <= opt <= max" in messages(check_tensorrt_compatibility(model, {"N": (5, 2, 3)}))
    unnamed = model_of(
        [helper.make_node("Relu", ["x"], ["y"])],
        [tensor("x", shape=(None, 8))],
        [tensor("y", shape=(None, 8))],
    )
    assert "no name" in messages(check_tensorrt_compatibility(unnamed, {"N": (1, 2, 3)}))
    reshape = model_of(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [tensor("x"), tensor("shape", TensorProto.INT64, (2,))],
        [tensor("y", shape=("A", "B"))],
    )
    assert "shape-tensor input" in messages(check_tensorrt_compatibility(reshape, {"N": (1, 2, 3)}))


def test_problems_inside_subgraphs_are_found():
    then = helper.make_graph(
        [helper.make_node("Unique", ["x"], ["t"])], "then", [], [tensor("t", shape=("U",))]
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])], "else", [], [tensor("e", shape=("N",))]
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)
    model = model_of(
        [node],
        [tensor("c", TensorProto.BOOL, ()), tensor("x", shape=("N",))],
        [tensor("y", shape=("Y",))],
    )
    assert "Unique" in messages(check_tensorrt_compatibility(model, {"N": (1, 2, 3)}))


def test_real_export_of_gather_attention_graph_passes(toy_onnx):
    problems = check_tensorrt_compatibility(toy_onnx, TOY_PROFILE)
    assert problems == [], messages(problems)
    assert "not covered" in messages(check_tensorrt_compatibility(toy_onnx, {"N": (1, 2, 3)}))


class AccumulatingScatter(torch.nn.Module):
    """index_put(accumulate=True) exports as ScatterND(reduction='add'): TensorRT refuses."""

    def forward(self, feats, slots):
        out = feats.new_zeros(feats.shape[0] + 1, feats.shape[1])
        return out.index_put((slots,), feats, accumulate=True)


def test_real_export_with_a_tensorrt_incompatible_op_fails(tmp_path):
    inputs = make_inputs(60, 0)
    example = {"feats": inputs["xyz"], "slots": inputs["groups"].reshape(-1)[:60]}
    path = export_onnx(
        AccumulatingScatter(),
        example,
        ["out"],
        {"feats": {0: "N"}, "slots": {0: "N"}},
        tmp_path / "scatter.onnx",
    )
    assert any(n.op_type == "ScatterND" for n in onnx.load(str(path)).graph.node)
    problems = check_tensorrt_compatibility(path, {"N": (1, 100, 1000)})
    assert any("reduction 'add'" in p.message for p in problems), messages(problems)


@pytest.mark.parametrize("opset", [8, 25])
def test_opset_outside_parser_range_fails(opset):
    model = model_of(
        [helper.make_node("Relu", ["x"], ["y"])], [tensor("x")], [tensor("y")], opset=opset
    )
    assert "opset" in messages(check_tensorrt_compatibility(model, {"N": (1, 2, 3)}))
