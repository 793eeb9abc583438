#!/usr/bin/env bash
# The web UI benchmark: ferroflow's UI against the stock MLflow 3 UI in headless Chromium, one run,
# same data (see bench/README.md, "The web UI"). Arguments go to bench.mjs, e.g.
#   bench/ui/run.sh                       # 5,000 runs, a 100,000-step metric, 100 runs compared
#   bench/ui/run.sh --runs 1000 --repeats 1
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${BENCH_VENV:-$REPO/.venv/bench}"

if [[ ! -x "$VENV/bin/mlflow" ]]; then
    echo "[ui-bench] setting up $VENV" >&2
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REPO/bench/requirements.txt"
fi
command -v chromium >/dev/null 2>&1 || { echo "[ui-bench] needs Debian's chromium (apt-get install chromium)" >&2; exit 1; }
(cd "$REPO" && cargo build --release --locked -p ferroflow-cli)
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
FERROFLOW_BIN="${FERROFLOW_BIN:-$REPO/target/release/ferroflow}" MLFLOW_BIN="${MLFLOW_BIN:-$VENV/bin/mlflow}" \
    exec node "$HERE/bench.mjs" "$@"
