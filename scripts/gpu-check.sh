#!/usr/bin/env bash
# The GPU paths on one machine with a CUDA GPU (see scripts/gpu_check.py); on a machine without
# one it validates its checks and exits 0. Creates the project's environment first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
make --quiet venv
exec .venv/bin/python scripts/gpu_check.py "$@"
