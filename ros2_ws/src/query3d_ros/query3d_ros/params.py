"""Every parameter of query3d_node: its type, valid values and meaning, declared from one
table. The defaults live in one place only, ``config/query3d.yaml`` inside this package
(what the launch file passes, and what the node reads when started without a params
file); a test keeps the table and the file naming the same parameters.

Every value is checked before the node starts (``validate_all``): a wrong value stops it
with one line naming the parameter, the value and the valid ones, instead of silently
behaving like something else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from query3d_ros.params_inputs import INPUT_PARAM_ROWS, range_problems

DEFAULTS_FILE = Path(__file__).with_name("config") / "query3d.yaml"
BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")
QOS = ("sensor_data", "reliable")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: type  # bool, int, float, str, or list (of floats)
    description: str
    dynamic: bool = False  # may be changed at run time with `ros2 param set`
    choices: tuple[str, ...] = ()
    low: float | None = None  # inclusive bounds
    high: float | None = None
    above: float | None = None  # exclusive lower bound (> above)
    length: int | None = None  # lists: exact length

    def valid(self) -> str:
        """The valid values, in words."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.length is not None:
            return f"a list of {self.length} finite numbers"
        parts = []
        if self.above is not None:
            parts.append(f"> {self.above:g}")
        if self.low is not None:
            parts.append(f">= {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return (" and ".join(parts) or f"any {self.kind.__name__}")

    def problem(self, value: Any) -> str | None:
        """None if ``value`` is valid, else the one-line reason."""
        bad = f"parameter {self.name!r}: {value!r} is not valid; expected {self.valid()}"
        if self.kind is list:
            if not isinstance(value, (list, tuple)) or len(value) != self.length or \
                    not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value):
                return bad
            return None
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            return (f"parameter {self.name!r}: {value!r} is a {type(value).__name__}, "
                    f"expected a {self.kind.__name__} ({self.valid()})")
        if self.choices and value not in self.choices:
            return bad
        if self.kind in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                return bad
            if (self.low is not None and value < self.low) or \
                    (self.high is not None and value > self.high) or \
                    (self.above is not None and value <= self.above):
                return bad
        return None


def _threshold(name: str, what: str) -> ParamSpec:
    return ParamSpec(name, float, f"{what}; < 0 = the checkpoint's calibrated value",
                     dynamic=True, low=-1.0, high=1.0)


# decision values whose negative setting means "the checkpoint's"
CHECKPOINT_DEFAULTED = ("score_threshold", "mask_threshold", "split_gap", "superlative_share",
                        "superlative_threshold")


def checkpoint_defaulted(value: Callable[[str], float]) -> dict[str, float | None]:
    """Segmenter overrides from the node's values: a negative one is None, i.e. the value
    the checkpoint was calibrated with."""
    return {k: None if value(k) < 0 else value(k) for k in CHECKPOINT_DEFAULTED}

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("autostart", bool, "configure and activate at start-up; false = wait for "
              "lifecycle transitions (change_state)"),
    ParamSpec("checkpoint", str, "checkpoint (.pt) or export folder; empty = bundled demo"),
    ParamSpec("backend", str, "torch answers at once; onnxruntime / tensorrt serve a "
              "checkpoint with torch until its graph is exported (background) or built",
              choices=BACKENDS),
    ParamSpec("engine_cache_dir", str, "TensorRT engine cache folder"),
    ParamSpec("onnx_cache_dir", str, "folder of the ONNX graphs exported from checkpoints"),
    ParamSpec("trt_precision", str, "TensorRT precision", choices=("fp16", "fp32")),
    ParamSpec("text_cache_size", int, "number of cached command embeddings", low=1),
    ParamSpec("warm_up", bool, "run the network once at start-up (and start a due graph "
              "export), so the first command pays no one-off cost"),
    ParamSpec("num_threads", int, "CPU threads for inference; 0 = library default", low=0),
    _threshold("score_threshold", "a detection slot fires above this"),
    _threshold("mask_threshold", "a point belongs to a target above this"),
    ParamSpec("limit_by_grammar", bool, "answer a singular command ('the red mug') with its "
              "best target only, a numeral ('the two cans') with at most that many; false = "
              "every slot that fires", dynamic=True),
    ParamSpec("split_gap", float, "m: a target whose points lie in pieces further apart "
              "answers once per piece where the command allows several; 0 = never; < 0 = "
              "the checkpoint's", dynamic=True, low=-1.0, high=1.0),
    ParamSpec("superlative_share", float, "a singular superlative ('the box on the left') "
              "answers with the extreme object of those scored at least this share of the "
              "best; 1 = off; < 0 = the checkpoint's", dynamic=True, low=-1.0, high=1.0),
    ParamSpec("superlative_threshold", float, "a singular superlative fires above this when "
              "it is under score_threshold (the objects it ranks are presupposed); 1 = "
              "never lower; < 0 = the checkpoint's", dynamic=True, low=-1.0, high=1.0),
    ParamSpec("min_target_points", int, "targets with fewer points are dropped", dynamic=True,
              low=1),
    ParamSpec("network_points", int, "the network sees at most this many points, every point "
              "is labelled; -1 = the checkpoint's training density, 0 = all", low=-1),
    ParamSpec("mode", str, "once: run per command; continuous: re-run on new frames",
              dynamic=True, choices=("once", "continuous")),
    ParamSpec("max_rate", float, "Hz, upper bound of runs in continuous mode", dynamic=True,
              above=0.0),
    ParamSpec("command_queue_size", int, "commands (topic, service, action) waiting to run; "
              "one more is refused with a log line", low=1, high=64),
    ParamSpec("request_timeout", float, "s a service call or action goal waits for a cloud "
              "and its answer unless it asks for another timeout", dynamic=True, above=0.0),
    ParamSpec("points_qos", str, "sensor_data (best effort) | reliable", choices=QOS),
    ParamSpec("image_qos", str, "sensor_data (best effort) | reliable", choices=QOS),
    ParamSpec("use_images", bool, "pair clouds with images + camera_info when they arrive"),
    ParamSpec("sync_slop", float, "s, approximate-time pairing window", dynamic=True,
              above=0.0),
    ParamSpec("image_wait", float, "s a run waits for its cloud's camera image while a camera "
              "publishes (images are larger and often arrive after their cloud); 0 = never",
              dynamic=True, low=0.0),
    ParamSpec("sync_queue_size", int, "messages kept per input while pairing", low=1),
    ParamSpec("use_tf", bool, "camera extrinsics from tf2 where installed"),
    ParamSpec("camera_to_cloud", list, "x y z qx qy qz qw of the camera optical frame in the "
              "cloud frame (no tf2)", length=7),
    ParamSpec("input_timeout", float, "s without a cloud before diagnostics WARN",
              dynamic=True, above=0.0),
    ParamSpec("publish_debug_image", bool, "draw and publish the debug image", dynamic=True),
    ParamSpec("marker_lifetime", float, "s, 0 = markers stay until replaced", dynamic=True,
              low=0.0),
    ParamSpec("diagnostics_period", float, "s between diagnostics messages", above=0.0),
) + tuple(ParamSpec(name, kind, text, **limits) for name, kind, text, limits in INPUT_PARAM_ROWS)

BY_NAME = {p.name: p for p in PARAMS}


# declared by rclpy itself, so not ours to refuse
RCL_PARAMETERS = ("use_sim_time", "start_type_description_service")


def declare_checked(node: Any) -> list[str]:
    """Declare every parameter with its YAML default and typed descriptor, after checking
    each given value (command line, params file) against its spec. Returns one line per
    invalid or unknown value (and one for contradictory range values); invalid values are
    left out, so declaring always succeeds and the lifecycle *configure* step refuses to go
    on while any problem is listed."""
    from rclpy.parameter import Parameter

    problems = []
    overrides = node._parameter_overrides  # what rclpy was given, before declaration
    for name, given in list(overrides.items()):
        spec = BY_NAME.get(name)
        if spec is None:
            if name not in RCL_PARAMETERS and not name.startswith("qos_overrides."):
                problems.append(f"parameter {name!r} is not a query3d_node parameter")
            continue
        problem = spec.problem(given.value)
        if problem:
            problems.append(problem)
            del overrides[name]
        elif spec.kind is float and given.type_ == Parameter.Type.INTEGER:
            # `-p max_rate:=2` means 2.0: rclpy would refuse an integer for a double
            overrides[name] = Parameter(name, Parameter.Type.DOUBLE, float(given.value))
    values = defaults()
    for spec in PARAMS:
        node.declare_parameter(spec.name, values[spec.name], descriptor(spec))
    declared = {spec.name: node.get_parameter(spec.name).value for spec in PARAMS}
    return problems + range_problems(declared)


class InvalidParameters(ValueError):
    """One or more parameter values are not valid; the message has a line for each."""


@lru_cache(maxsize=1)
def defaults() -> dict[str, Any]:
    """The default of every parameter, from ``config/query3d.yaml`` (checked like any
    given value: a broken packaged file fails here, clearly)."""
    data = yaml.safe_load(DEFAULTS_FILE.read_text())
    values = dict(data["/**"]["ros__parameters"])
    missing = sorted(set(BY_NAME) - set(values))
    unknown = sorted(set(values) - set(BY_NAME))
    if missing or unknown:
        raise InvalidParameters(f"{DEFAULTS_FILE}: missing {missing}, unknown {unknown}")
    validate_all(values)
    return values


def validate_all(values: dict[str, Any]) -> None:
    """Raise ``InvalidParameters`` listing every invalid value (and, once each is valid,
    range values that contradict each other)."""
    problems = [p for name, value in values.items()
                if name in BY_NAME and (p := BY_NAME[name].problem(value))]
    problems = problems or range_problems(values)  # together, once each is valid
    if problems:
        raise InvalidParameters("\n".join(problems))


def descriptor(spec: ParamSpec) -> Any:
    """The rcl_interfaces ParameterDescriptor: type, range and description, as
    ``ros2 param describe`` shows them."""
    from rcl_interfaces.msg import (
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        ParameterType,
    )

    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
             list: ParameterType.PARAMETER_DOUBLE_ARRAY}
    out = ParameterDescriptor(description=spec.description, type=types[spec.kind],
                              read_only=not spec.dynamic,
                              additional_constraints=f"valid: {spec.valid()}")
    low = spec.low if spec.low is not None else spec.above
    if spec.kind is float and (low is not None or spec.high is not None):
        out.floating_point_range = [FloatingPointRange(
            from_value=float(low if low is not None else -1e300),
            to_value=float(spec.high if spec.high is not None else 1e300), step=0.0)]
    elif spec.kind is int and (spec.low is not None or spec.high is not None):
        out.integer_range = [IntegerRange(
            from_value=int(spec.low if spec.low is not None else -2**63),
            to_value=int(spec.high if spec.high is not None else 2**63 - 1), step=1)]
    return out
