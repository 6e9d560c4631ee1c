"""The params YAML (the one home of the defaults) and the node's parameter table must
agree, every value is checked against its spec before the node starts, and the launch
file only passes parameters and remaps topics the node knows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from query3d_ros import topics
from query3d_ros.launcher import INPUT_REMAPS
from query3d_ros.params import (
    BY_NAME,
    CHECKPOINT_DEFAULTED,
    DEFAULTS_FILE,
    PARAMS,
    InvalidParameters,
    checkpoint_defaulted,
    defaults,
    descriptor,
    validate_all,
)

PKG = Path(__file__).resolve().parents[1]


def test_the_yaml_holds_a_valid_default_for_every_declared_parameter() -> None:
    data = yaml.safe_load(DEFAULTS_FILE.read_text())
    values = data["/**"]["ros__parameters"]
    assert set(values) == set(BY_NAME), set(values) ^ set(BY_NAME)
    assert defaults() == values
    validate_all(values)  # every default passes its own spec
    for spec in PARAMS:
        assert spec.description
        assert descriptor(spec).description == spec.description


def test_topic_names_are_fixed_private_names_not_parameters() -> None:
    assert not [spec.name for spec in PARAMS if spec.name.endswith("_topic")]
    for name in (*topics.INPUTS, *topics.OUTPUTS):
        assert name.startswith(("~/input/", "~/output/")), name
    assert set(INPUT_REMAPS) == set(topics.INPUTS)


@pytest.mark.parametrize(("name", "value", "words"), [
    ("mode", "contnuous", ["'mode'", "'contnuous'", "one of once, continuous"]),
    ("backend", "tensorflow", ["'backend'", "auto, torch, onnxruntime, tensorrt"]),
    ("max_rate", 0.0, ["'max_rate'", "> 0"]),
    ("score_threshold", 1.5, ["'score_threshold'", ">= -1 and <= 1"]),
    ("min_target_points", 0, ["'min_target_points'", ">= 1"]),
    ("sync_slop", float("nan"), ["'sync_slop'"]),
    ("camera_to_cloud", [0.0, 0.0, 1.0], ["a list of 7 finite numbers"]),
    ("warm_up", "yes", ["is a str, expected a bool"]),
    ("text_cache_size", 2.5, ["is a float, expected a int"]),
])
def test_invalid_values_are_named_with_the_valid_ones(name, value, words) -> None:
    problem = BY_NAME[name].problem(value)
    assert problem is not None and all(w in problem for w in words), problem
    with pytest.raises(InvalidParameters, match=name):
        validate_all({**defaults(), name: value})


def test_valid_values_pass() -> None:
    for name, value in [("mode", "continuous"), ("max_rate", 10), ("score_threshold", -1.0),
                        ("image_wait", 0.0), ("network_points", 0)]:
        assert BY_NAME[name].problem(value) is None, name


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
    assert remapped == set(topics.INPUTS)
    text = ast.unparse(TREE)
    for name in ("namespace", "params_file", "points", "image", "camera_info", "command", "classes",
                 "autostart", "backend", "checkpoint", "use_rviz"):
        assert f"'{name}'" in text


def test_the_rviz_view_shows_the_nodes_output_topics() -> None:
    shown = re.findall(r"Value: (/query3d_node/\S+)", (PKG / "rviz" / "query3d.rviz").read_text())
    assert shown
    outputs = {"/query3d_node" + name[1:] for name in topics.OUTPUTS}
    assert set(shown) <= outputs, set(shown) - outputs


def test_negative_decision_values_defer_to_the_checkpoint() -> None:
    values = {"score_threshold": -1.0, "mask_threshold": 0.4, "split_gap": 0.0,
              "superlative_share": -1.0, "superlative_threshold": 0.05}
    assert checkpoint_defaulted(values.__getitem__) == {
        "score_threshold": None, "mask_threshold": 0.4, "split_gap": 0.0,
        "superlative_share": None, "superlative_threshold": 0.05}
    for name in CHECKPOINT_DEFAULTED:  # each one a declared, runtime-changeable parameter
        assert BY_NAME[name].dynamic and BY_NAME[name].low == -1.0
