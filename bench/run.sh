#!/usr/bin/env bash
# Benchmark ferroflow against MLflow and FastTrackML; see bench/README.md.
# Creates the Python venv (.venv/bench) on first use, builds the load generator
# (and the ferroflow binary) with cargo, then runs bench/bench.py with all
# arguments passed through, e.g.:
#   bench/run.sh --quick
#   bench/run.sh --servers ferroflow,mlflow --workloads ingest,search
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH_DIR")"
VENV="${BENCH_VENV:-$REPO/.venv/bench}"
MOTO_VENV="${BENCH_MOTO_VENV:-$REPO/.venv/bench-moto}"
PYTHON="${PYTHON:-python3}"

# The venv is (re)installed when the pinned requirements change.
stamp="$(cat "$BENCH_DIR/requirements.txt" "$BENCH_DIR/requirements-fasttrackml.txt" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.bench-requirements" 2>/dev/null || true)" != "$stamp" ]]; then
    echo "[bench] setting up $VENV" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$BENCH_DIR/requirements.txt"
    # FastTrackML's wheel ships the Go server binary (bin/fml) plus a Python
    # client that requires mlflow<3; the client is not used here, so it is
    # installed without dependencies next to the pinned mlflow 3.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$BENCH_DIR/requirements-fasttrackml.txt"
    echo "$stamp" > "$VENV/.bench-requirements"
fi

# moto (the S3-compatible server of the artifacts-s3 workload) gets a venv of
# its own, likewise reinstalled when its pinned requirement changes.
moto_stamp="$(sha256sum "$BENCH_DIR/requirements-moto.txt" | cut -d' ' -f1)"
if [[ ! -x "$MOTO_VENV/bin/moto_server" || "$(cat "$MOTO_VENV/.bench-requirements" 2>/dev/null || true)" != "$moto_stamp" ]]; then
    echo "[bench] setting up $MOTO_VENV" >&2
    "$PYTHON" -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$BENCH_DIR/requirements-moto.txt"
    echo "$moto_stamp" > "$MOTO_VENV/.bench-requirements"
fi

# s3s-fs (the default S3-compatible server of artifacts-s3, a Rust S3 server on
# the local filesystem) is installed from crates.io into the project-local,
# gitignored .tools/ when missing or of another version, unless S3S_FS_BIN
# names a binary or `--s3-server moto` is asked for. Without it bench.py falls
# back to moto.
S3S_FS_VERSION="0.14.1"
TOOLS="${BENCH_TOOLS:-$REPO/.tools}"
want_s3s=1
prev=""
for arg in "$@"; do
    # The access-control comparison (--auth) has no artifact workload.
    if [[ "$arg" == "--auth" || "$arg" == "--s3-server=moto" || ( "$prev" == "--s3-server" && "$arg" == "moto" ) ]]; then
        want_s3s=0
    fi
    prev="$arg"
done
if [[ $want_s3s == 1 && -z "${S3S_FS_BIN:-}" ]]; then
    if [[ "$("$TOOLS/bin/s3s-fs" --version 2>/dev/null || true)" != "s3s-fs $S3S_FS_VERSION" ]]; then
        echo "[bench] installing s3s-fs $S3S_FS_VERSION into $TOOLS (cargo install, a few minutes)" >&2
        cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --force --root "$TOOLS" >&2 \
            || echo "[bench] installing s3s-fs failed; artifacts-s3 falls back to moto" >&2
    fi
    if [[ -x "$TOOLS/bin/s3s-fs" ]]; then
        export S3S_FS_BIN="$TOOLS/bin/s3s-fs"
    fi
fi

exec "$VENV/bin/python" "$BENCH_DIR/bench.py" --venv "$VENV" --moto-venv "$MOTO_VENV" "$@"
