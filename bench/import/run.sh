#!/usr/bin/env bash
# bench/import: `ferroflow db import` against mlflow-export-import (see bench_import.py).
#   bench/import/run.sh                      10,000 runs, 10 million points; export-import on 100 runs
#   bench/import/run.sh --export-runs 10000  mlflow-export-import on everything too (hours)
# Creates .venv/bench-import from bench/import/requirements.txt and builds the release binary.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$REPO_ROOT/.venv/bench-import"
REQ="$REPO_ROOT/bench/import/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    echo "venv bench-import: installing $REQ" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    echo "$want" >"$STAMP"
fi
cargo build --release --locked -p ferroflow-cli >&2
exec "$VENV/bin/python" "$REPO_ROOT/bench/import/bench_import.py" --mlflow-venv "$VENV" "$@"
