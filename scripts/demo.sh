#!/usr/bin/env bash
# The main job on a fresh machine: install (scripts/setup.sh), then the ROS demo:
# query3d_node + scene player + commands over DDS -> demo_out/ (PNGs + summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
. .venv/bin/activate
query3d demo --out demo_out "$@"
echo "demo (install included) took $(( $(date +%s) - start )) s"
