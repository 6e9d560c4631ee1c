"""The house rules of the layout, checked on the tree: folder = import name, a public API
at the top, imports that run one way, files short enough to read in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NODE_PKG = REPO / "ros2_ws" / "src" / "query3d_ros" / "query3d_ros"
# product folder -> its import name (setup.py's package_dir, and the node package)
FOLDERS = {REPO / "query3d": "query3d", REPO / "model": "query3d.model",
           REPO / "training": "query3d.training", NODE_PKG: "query3d_ros"}
# lower number = lower layer: data types and readers <- model <- export <- runtime <- CLI/node
LAYERS = [
    ("query3d.cli", 4), ("query3d.__main__", 4), ("query3d_ros", 4), ("query3d.training", 3),
    ("query3d.model.runtime", 3), ("query3d.viz", 3), ("query3d.model.export", 2),
    ("query3d.model", 1), ("query3d.data", 0), ("query3d.config", 0),
    ("query3d.registry", 0), ("query3d.bundled", 0), ("query3d", 0),
]


def layer(module: str) -> int:
    for prefix, level in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return level
    raise AssertionError(f"{module} belongs to no layer")


def product_modules():
    for folder, name in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield path, ".".join([name, *parts])


def imported(path: Path) -> set[str]:
    """Every query3d module a file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] in ("query3d", "query3d_ros")}


def test_imports_run_one_way() -> None:
    upward = []
    for path, module in product_modules():
        for target in imported(path):
            if layer(target) > layer(module) and not target.startswith(module):
                upward.append(f"{path.relative_to(REPO)} ({module}) imports {target}")
    assert not upward, "\n".join(upward)


def test_serving_code_never_imports_training() -> None:
    """The runtime and the node import nothing from query3d.training, even indirectly."""
    code = ("import sys, query3d.model.runtime.segmenter, query3d.cli.segment; "
            "import query3d_ros.node; "
            "bad = sorted(m for m in sys.modules if m.startswith('query3d.training')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_core_never_imports_the_node_package() -> None:
    for path, module in product_modules():
        if not module.startswith("query3d_ros"):
            assert not any(t.startswith("query3d_ros") for t in imported(path)), path


@pytest.mark.parametrize("path", [p for p, _ in product_modules()],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_product_files_are_short_enough_to_read(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines < 400, f"{path.relative_to(REPO)} has {lines} lines"


def test_public_api_and_no_core_folder() -> None:
    assert not (REPO / "core").exists()
    code = ("import sys, query3d; assert 'torch' not in sys.modules; "
            "from query3d import Segmenter, load_config, QueryResult, TargetResult; "
            "assert Segmenter.__module__ == 'query3d.model.runtime.segmenter'; "
            "assert load_config('small').model.dim > 0")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
