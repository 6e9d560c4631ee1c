"""query3d: find what a sentence refers to in a 3D point cloud.

    from query3d import Segmenter, load_config

    segmenter = Segmenter("model.pt")                      # or an exported ONNX folder
    result = segmenter.segment(points, colors, text="the red mug")
    for target in result.targets:                            # zero, one or many
        print(target.label, target.score, target.point_indices, target.box_center)
    labels = segmenter.label(points, colors, classes="mug, bowl, table")  # SemanticResult

The distribution maps folders to namespaced import names (see setup.py): ``query3d/`` is
``query3d`` (configuration, the data layer, the CLI), ``model/`` is ``query3d.model`` (the
network, export, runtimes) and ``training/`` is ``query3d.training``. Names here load on
first use, so ``import query3d`` stays cheap (no torch until a Segmenter is wanted).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "Segmenter": "query3d.model.runtime.segmenter",
    "QueryResult": "query3d.model.output",
    "TargetResult": "query3d.model.output",
    "SemanticResult": "query3d.model.output",
    "load_config": "query3d.config",
    "Config": "query3d.config",
    "RuntimeConfig": "query3d.config",
    "read_cloud": "query3d.data.readers",
}
__all__ = ["Config", "QueryResult", "RuntimeConfig", "Segmenter", "SemanticResult",
           "TargetResult", "__version__", "load_config", "read_cloud"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ loads them
    from query3d.config import Config, RuntimeConfig, load_config
    from query3d.data.readers import read_cloud
    from query3d.model.output import QueryResult, SemanticResult, TargetResult
    from query3d.model.runtime.segmenter import Segmenter


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'query3d' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
