#!/usr/bin/env bash
# Creates .venv (if missing) and installs query3d with the ROS 2 wheels and dev tools, then
# builds the query3d_msgs interfaces into .venv (so `import query3d_msgs` works there).
# Safe to run again: it only installs what is missing, and rebuilds the interfaces only
# when their definitions changed. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch first, so nothing pulls a multi-GB CUDA build.
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[ros,dev]"
python -m pip install -q -e ros2_ws/src/query3d_ros
bash scripts/build_interfaces.sh
