"""Parameters of the input side: frames, the range filter and input watching.

Kept apart from ``params.py`` so the rules that decide what the network is shown read in
one place: each row is ``ParamSpec``'s arguments, and ``params.PARAMS`` appends them to
its table (rows, not specs, so this module needs nothing from ``params``). Defaults live
in ``config/query3d.yaml`` like every other parameter's. The range filter's four values
are also checked together (``range_problems``): a pair that keeps no point stops the node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from query3d.geometry import RangeLimits

LEVELLING = ("optical", "always", "never")


def ParamSpec(name: str, kind: type, description: str, **limits: Any) -> tuple:  # noqa: N802
    """One row: the arguments of ``params.ParamSpec`` (read the same way)."""
    return (name, kind, description, limits)


INPUT_PARAM_ROWS: tuple[tuple, ...] = (
    ParamSpec("target_frame", str, "the robot frame the network sees clouds in (z up, REP 103); "
              "\"\" = run every cloud in its own frame"),
    ParamSpec("cloud_to_target", list, "x y z qx qy qz qw of the cloud frame in target_frame, "
              "used without tf2 for clouds in cloud_to_target_frame", length=7),
    ParamSpec("cloud_to_target_frame", str, "the cloud frame_id that cloud_to_target is for; "
              "\"\" = none"),
    ParamSpec("levelling", str, "clouds with no known transform to target_frame: optical = "
              "level *_optical_frame clouds on their estimated support plane, always = level "
              "any such cloud, never = run them as they are (all with a WARN)",
              choices=LEVELLING),
    ParamSpec("level_threshold", float, "m, how far from the support plane a point still lies "
              "on it (sensor noise)", above=0.0, high=0.5),
    ParamSpec("min_range", float, "m from the sensor; nearer points are dropped", low=0.0),
    ParamSpec("max_range", float, "m from the sensor; farther points (and sentinels such as "
              "3e38) are dropped before the network", above=0.0, high=1e4),
    ParamSpec("z_min", float, "m, lowest height kept in the frame the network sees",
              low=-1e4, high=1e4),
    ParamSpec("z_max", float, "m, highest height kept in the frame the network sees",
              low=-1e4, high=1e4),
    ParamSpec("input_silence_warn", float, "s: an input topic with publishers but no message "
              "for this long is reported (QoS mismatch, lost large best-effort messages)",
              above=0.0),
)

RANGE_PARAMS = ("min_range", "max_range", "z_min", "z_max")


def range_limits(p: Callable[[str], Any]) -> RangeLimits:
    """The range filter's limits from ``p(name)`` (a node parameter); ``ValueError`` names
    the pair that contradicts itself."""
    try:
        return RangeLimits(*(float(p(name)) for name in RANGE_PARAMS))
    except ValueError as exc:
        raise ValueError(f"range filter parameters: {exc}") from exc


def range_problems(values: Mapping[str, Any]) -> list[str]:
    """One line when the (individually valid) range values contradict each other."""
    if not all(name in values for name in RANGE_PARAMS):
        return []
    try:
        range_limits(values.__getitem__)
    except ValueError as exc:
        return [str(exc)]
    return []
