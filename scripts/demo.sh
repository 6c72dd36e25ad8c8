#!/usr/bin/env bash
# The main job, from a fresh clone: build and install the package into .venv, then send and
# receive through the bundled broker (examples/quickstart.py). Needs python3 >= 3.9 and cargo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "maturin==1.16.*"
VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" .venv/bin/maturin develop --release --quiet
.venv/bin/python examples/quickstart.py
