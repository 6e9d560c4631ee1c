"""export_onnx on a real gather/attention graph: metadata, dynamic N, loud failures."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import DYNAMIC_AXES, OUTPUT_NAMES, make_inputs

from query3d.model.export.onnx_export import (
    FORMAT_VERSION,
    ExportError,
    check_standard_ops,
    export_onnx,
    read_onnx_metadata,
)


def test_metadata_and_checker(toy_onnx):
    model = onnx.load(str(toy_onnx))
    onnx.checker.check_model(model, full_check=True)
    meta = read_onnx_metadata(toy_onnx)
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["input_names"] == list(make_inputs(20, 0))
    assert meta["output_names"] == OUTPUT_NAMES
    assert meta["config"] == {"dim": 32}
    assert meta["text_encoder"] == {"name": "toy", "dim": 24}
    assert [o.name for o in model.graph.output] == OUTPUT_NAMES
    dims = {
        vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in model.graph.input
    }
    assert dims["xyz"] == ["N", 3] and dims["groups"] == ["G", 8]
    assert dims["text_features"] == [3, 24]  # not declared dynamic: stays fixed


@pytest.mark.parametrize("num_points", [23, 401, 2500])
def test_graph_accepts_point_counts_it_was_not_exported_with(toy_net, toy_onnx, num_points):
    session = ort.InferenceSession(str(toy_onnx), providers=["CPUExecutionProvider"])
    inputs = make_inputs(num_points, seed=num_points)
    got = session.run(OUTPUT_NAMES, {k: v.numpy() for k, v in inputs.items()})
    with torch.no_grad():
        want = toy_net(**inputs)
    assert got[0].shape == (num_points,)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4, rtol=1e-4)


def test_metadata_of_another_format_version_is_refused(toy_onnx, tmp_path):
    model = onnx.load(str(toy_onnx))
    for prop in model.metadata_props:
        if prop.key == "query3d.format_version":
            prop.value = "99"
    path = tmp_path / "old.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="format_version 99"):
        read_onnx_metadata(path)


class BakesPointCount(torch.nn.Module):
    """Branches on N: valid for the example size only, which the exporter must refuse."""

    def forward(self, xyz):
        if xyz.shape[0] > 300:
            return xyz * 2
        return xyz


def test_specialising_a_dynamic_axis_fails_loudly(tmp_path):
    with pytest.raises(ExportError, match="torch.onnx.export failed"):
        export_onnx(
            BakesPointCount(),
            {"xyz": torch.randn(400, 3)},
            ["out"],
            {"xyz": {0: "N"}},
            tmp_path / "bad.onnx",
        )
    assert not (tmp_path / "bad.onnx").exists()


@torch.library.custom_op("query3d_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


@mystery.register_fake
def _(x):
    return torch.empty_like(x)


class UsesCustomOp(torch.nn.Module):
    def forward(self, xyz):
        return mystery(xyz) + 1


def test_op_without_onnx_translation_fails_loudly(tmp_path):
    with pytest.raises(ExportError):
        export_onnx(
            UsesCustomOp(),
            {"xyz": torch.randn(40, 3)},
            ["out"],
            {"xyz": {0: "N"}},
            tmp_path / "custom.onnx",
        )


def test_custom_domain_node_is_rejected():
    node = onnx.helper.make_node("Mystery", ["x"], ["y"], domain="com.example")
    graph = onnx.helper.make_graph(
        [node],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N"])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N"])],
    )
    model = onnx.helper.make_model(
        graph,
        opset_imports=[
            onnx.helper.make_opsetid("", 18),
            onnx.helper.make_opsetid("com.example", 1),
        ],
    )
    with pytest.raises(ExportError, match="com.example"):
        check_standard_ops(model)


def test_bad_arguments_are_named(toy_net, tmp_path):
    inputs = make_inputs(50, 0)
    with pytest.raises(ValueError, match="do not exist"):
        export_onnx(toy_net, inputs, OUTPUT_NAMES, {"points": {0: "N"}}, tmp_path / "a.onnx")
    small = make_inputs(50, 0)
    small["text_features"] = small["text_features"][:1]
    axes = {**DYNAMIC_AXES, "text_features": {0: "T"}}
    with pytest.raises(ValueError, match="size 1 on dynamic axis"):
        export_onnx(toy_net, small, OUTPUT_NAMES, axes, tmp_path / "b.onnx")
    with pytest.raises(ValueError, match="opset"):
        export_onnx(toy_net, inputs, OUTPUT_NAMES, DYNAMIC_AXES, tmp_path / "c.onnx", opset=13)
