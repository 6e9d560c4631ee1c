#!/usr/bin/env bash
# The whole test suite from a fresh clone: install (scripts/setup.sh), ruff, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
echo "setup took $(( $(date +%s) - start )) s"
. .venv/bin/activate
ruff check .
python -m pytest -q -ra "$@"
echo "setup + tests took $(( $(date +%s) - start )) s"
