#!/usr/bin/env bash
# Seconds per epoch of zoo against the hand-written loop on one GPU (see bench/gpu.py).
#   bash bench/gpu.sh          on a CUDA machine
#   bash bench/gpu.sh --cpu    anywhere, tiny sizes (CI runs this)
# Needs only a Python with zoo's dependencies (torch, torchvision, ...): zoo itself is imported
# from this checkout, which may be a bare, read-only copy. PYTHON chooses the interpreter;
# otherwise the checkout's .venv, else python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-$here/../.venv/bin/python}"
[ -x "$python" ] || python=python3
exec "$python" "$here/gpu.py" "$@"
