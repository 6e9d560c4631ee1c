"""The three ways a robotics engineer installs query3d: pip editable, pip regular and
colcon in ``ros2_ws``. Each runs in a throwaway location; third-party dependencies come
from the test environment through a .pth line, so only query3d itself is installed."""

from __future__ import annotations

import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IMPORT_CHECK = (
    "import query3d, query3d.model, query3d.training, query3d.config, query3d.cli;"
    "print(query3d.model.__file__); print(query3d.training.__file__)"
)


def _throwaway_venv(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    deps = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    # appended after the venv's own site-packages, so the fresh install wins
    Path(purelib, "zz_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    return python


@pytest.mark.slow
@pytest.mark.parametrize("editable", [True, False], ids=["pip-install-e", "pip-install"])
def test_pip_install_gives_namespaced_packages(tmp_path: Path, editable: bool) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True,
                    ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info",
                                                  "__pycache__", "install", "log"))
    python = _throwaway_venv(tmp_path / "venv")
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
           "--no-deps", "--no-build-isolation"]
    subprocess.run([*cmd, *(["-e"] if editable else []), str(src)], check=True, cwd=tmp_path)
    out = subprocess.run([str(python), "-c", IMPORT_CHECK], check=True, capture_output=True,
                         text=True, cwd=tmp_path).stdout.split()
    model_file, training_file = map(Path, out)
    if editable:
        assert model_file == src / "model" / "__init__.py"
        assert training_file == src / "training" / "__init__.py"
    else:
        assert src not in model_file.parents
        assert model_file.parent.name == "model" and model_file.parent.parent.name == "query3d"
    cli = subprocess.run([str(python), "-m", "query3d", "--help"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert cli.returncode == 0 and "segment" in cli.stdout
    # no top-level `model` / `training` package leaks into the environment
    leak = subprocess.run([str(python), "-c", "import model"], capture_output=True, cwd=tmp_path)
    assert leak.returncode != 0


@pytest.mark.slow
def test_colcon_build_installs_both_packages(tmp_path: Path) -> None:
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.fail("colcon is not installed; `pip install -e .[ros]` provides it")
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, symlinks=True,
                    ignore=shutil.ignore_patterns(".venv", ".git", "build", "install", "log",
                                                  "*.egg-info", "__pycache__"))
    ws = repo / "ros2_ws"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([colcon, "build", "--event-handlers", "console_cohesion+"],
                            cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    share = ws / "install" / "query3d_ros" / "share" / "query3d_ros"
    for rel in ("launch/bringup.launch.py", "config/query3d.yaml", "rviz/query3d.rviz",
                "package.xml"):
        assert (share / rel).is_file(), f"{rel} missing from {share}"
    assert (ws / "install" / "query3d" / "share" / "query3d" / "package.xml").is_file()
    # the interface package: generated Python modules and their typesupport libraries
    msgs = ws / "install" / "query3d_msgs"
    for name in ("msg/_query_result.py", "srv/_segment.py", "action/_find_object.py"):
        assert list(msgs.rglob(f"site-packages/query3d_msgs/{name}")), f"{name} not built"
    assert (msgs / "lib" / "libquery3d_msgs__rosidl_typesupport_fastrtps_c.so").is_file()
    core = list((ws / "install" / "query3d").rglob("query3d/model/__init__.py"))
    assert core, "query3d.model was not installed by colcon"
    node_exe = ws / "install" / "query3d_ros" / "lib" / "query3d_ros" / "query3d_node"
    assert node_exe.is_file(), "ros2 run query3d_ros query3d_node would not find the node"
    _node_starts_from_install_space(ws / "install", node_exe)


def _node_starts_from_install_space(install: Path, node_exe: Path) -> None:
    """What ``source install/setup.bash; ros2 run query3d_ros query3d_node`` does: the
    install space's packages first on the path; the node loads its model and reports."""
    pytest.importorskip("rclpy")
    from query3d_ros.launcher import ros_env

    site_dirs = sorted(str(p.parent) for p in install.rglob("site-packages/query3d*")
                       if p.is_dir() and p.name in ("query3d", "query3d_ros"))
    env = ros_env(170 + os.getpid() % 20)
    env["PYTHONPATH"] = os.pathsep.join([*dict.fromkeys(site_dirs), env.get("PYTHONPATH", "")])
    env["AMENT_PREFIX_PATH"] = f"{install / 'query3d_ros'}{os.pathsep}{install / 'query3d'}"
    where = subprocess.run(
        [sys.executable, "-c", "import query3d_ros, query3d.model as m; "
         "print(query3d_ros.__file__); print(m.__file__)"],
        # not from the repo root, whose query3d/ folder `python -c` would import first
        env=env, capture_output=True, text=True, check=True, cwd=install).stdout.split()
    assert all(str(install) in path for path in where), where  # not the source tree's copy
    node = subprocess.Popen(
        [sys.executable, str(node_exe), "--ros-args", "-p", "backend:=torch",
         "-p", "warm_up:=false"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=install)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(node.stdout), daemon=True)
    reader.start()
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and node.poll() is None and \
                not any("model ready" in line for line in seen):
            time.sleep(0.2)
        assert any("model ready" in line for line in seen), "".join(seen)[-3000:]
        assert node.poll() is None, "".join(seen)[-3000:]
    finally:
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
