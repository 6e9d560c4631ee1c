"""The params YAML users edit and the node's declared parameters must agree, and the
launch file must only pass parameters and remap topics the node knows."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from query3d_ros.params import BY_NAME, PARAMS

PKG = Path(__file__).resolve().parents[1]


def test_yaml_defaults_equal_declared_defaults() -> None:
    data = yaml.safe_load((PKG / "config" / "query3d.yaml").read_text())
    values = data["/**"]["ros__parameters"]
    assert set(values) == set(BY_NAME), set(values) ^ set(BY_NAME)
    for spec in PARAMS:
        assert values[spec.name] == spec.default, spec.name
        assert spec.description


def test_topic_parameters_are_private_names() -> None:
    for spec in PARAMS:
        if spec.name.endswith("_topic"):
            assert spec.default.startswith("~/"), spec.name


TREE = ast.parse((PKG / "launch" / "bringup.launch.py").read_text())
CONSTANTS = {t.id: ast.literal_eval(n.value) for n in TREE.body if isinstance(n, ast.Assign)
             for t in n.targets if isinstance(n.value, ast.Constant)}


def _value(node: ast.expr):
    return CONSTANTS[node.id] if isinstance(node, ast.Name) else ast.literal_eval(node)


def _launch_node_call() -> ast.Call:
    calls = [n for n in ast.walk(TREE) if isinstance(n, ast.Call)
             and getattr(n.func, "id", "") == "Node"]
    for call in calls:
        kw = {k.arg: k.value for k in call.keywords}
        if _value(kw["package"]) == "query3d_ros":
            return call
    raise AssertionError("no query3d_ros Node in the launch file")


def test_launch_file_matches_setup_and_params() -> None:
    call = _launch_node_call()
    kw = {k.arg: k.value for k in call.keywords}
    executable = _value(kw["executable"])
    setup_py = (PKG / "setup.py").read_text()
    assert f'"{executable} = query3d_ros.node:main"' in setup_py
    overrides = [d for d in kw["parameters"].elts if isinstance(d, ast.Dict)]
    for key in overrides[0].keys:
        assert ast.literal_eval(key) in BY_NAME
    remapped = {ast.literal_eval(t.elts[0]) for t in kw["remappings"].elts}
    inputs = {BY_NAME[n].default for n in ("points_topic", "image_topic",
                                           "camera_info_topic", "command_topic")}
    assert remapped == inputs
    text = ast.unparse(TREE)
    for name in ("namespace", "params_file", "points", "image", "camera_info", "command",
                 "backend", "checkpoint", "use_rviz"):
        assert f"'{name}'" in text
