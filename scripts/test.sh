#!/usr/bin/env bash
# The project's test entry point (CI runs it through .ci/run).
#
#   1. make sure the local PostgreSQL and MariaDB servers are up, and start an S3-compatible
#      server (moto_server from .venv/s3, pinned in tests/requirements-s3.txt) on a free port;
#      FERROFLOW_TEST_S3_ENDPOINT, MLFLOW_S3_ENDPOINT_URL and AWS_* are exported for the Rust tests
#      and the suite
#   2. cargo test --workspace --locked (SQLite), then the HTTP integration tests again on PostgreSQL and
#      MariaDB (each test on a fresh database; all ff_it_* / ff_compat_* databases are dropped at exit)
#   3. cargo build --release --locked -p ferroflow-cli
#   4. create/refresh the Python venvs .venv/mlflow3 and .venv/mlflow2 (pinned in tests/)
#   5. run the compatibility suite tests/compat against target/release/ferroflow with each client, on
#      each database engine (every server on a fresh database)
#   6. the db import suite tests/import: the stock mlflow 3.17 server (.venv/mlflow-server) fills a
#      database on each engine, and mlflow 2.22 (.venv/mlflow2-server) one on MariaDB; each is
#      imported into another engine and compared
#   7. the web UI's end-to-end suite (tests/ui, node --test with playwright-core) in Debian's headless
#      Chromium, installed here when missing; data seeded with the mlflow3 client, on SQLite
#
# Extra arguments are passed to pytest (e.g. scripts/test.sh -k experiments -x).
#
# Knobs (for local use; CI sets none of them):
#   FERROFLOW_SKIP_CARGO=1     skip steps 2 and 3 (use the existing binary)
#   FERROFLOW_SKIP_SERVICES=1  skip step 1
#   FERROFLOW_VENVS="mlflow3"  which client venvs to test with (default: "mlflow3 mlflow2")
#   FERROFLOW_DATABASES="sqlite postgres"  which engines to test on (default: "sqlite postgres mysql")
#   FERROFLOW_SKIP_IMPORT=1    skip step 6
#   FERROFLOW_SKIP_UI=1        skip step 7
#   FERROFLOW_TEST_S3_ENDPOINT=http://host:port  use this S3-compatible endpoint instead of
#                              starting moto (AWS_* credentials then come from the environment)
#   PYTHON=python3.11          interpreter used to create the venvs
#   FERROFLOW_SERVER_CMD / FERROFLOW_BIN are honoured by the suite itself (see tests/compat/conftest.py)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PYTHON="${PYTHON:-python3}"
VENVS="${FERROFLOW_VENVS:-mlflow3 mlflow2}"
DATABASES="${FERROFLOW_DATABASES:-sqlite postgres mysql}"
if [[ -d "$HOME/.cargo/bin" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

SUMMARY=()
FAILED=0
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0

S3_PID=""
S3_LOG=""

step() { printf '\n==> %s\n' "$*"; }
note() { SUMMARY+=("$1"); }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

wait_until() { # wait_until <seconds> <description> <command...>
    local limit=$1 what=$2
    shift 2
    local i
    for ((i = 0; i < limit; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    die "$what did not become ready within ${limit}s"
}

# ------------------------------------------------------------------ 1. services
start_services() {
    step "database services"
    command -v pg_isready >/dev/null || die "pg_isready not found (PostgreSQL client missing)"
    if pg_isready -h 127.0.0.1 -q; then
        echo "PostgreSQL: already running"
    else
        local version
        version="$(ls /etc/postgresql | sort -V | tail -n 1)"
        [[ -n "$version" ]] || die "no PostgreSQL cluster under /etc/postgresql"
        echo "PostgreSQL: starting cluster $version/main"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        wait_until 60 "PostgreSQL" pg_isready -h 127.0.0.1 -q
        echo "PostgreSQL: ready"
    fi

    command -v mysqladmin >/dev/null || die "mysqladmin not found (MariaDB client missing)"
    if mysqladmin -h127.0.0.1 -uroot ping >/dev/null 2>&1; then
        echo "MariaDB: already running"
    else
        echo "MariaDB: starting"
        if id mysql >/dev/null 2>&1; then
            mkdir -p /run/mysqld
            chown mysql:mysql /run/mysqld
        fi
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
        wait_until 90 "MariaDB" mysqladmin -h127.0.0.1 -uroot ping
        echo "MariaDB: ready"
    fi
    note "services:  PostgreSQL and MariaDB up"
}

# ------------------------------------------------------------------ 2+3. cargo
# The web UI is bundled by ferroflow-ui's build script with npm (Debian's nodejs is recent enough).
ensure_npm() {
    command -v npm >/dev/null 2>&1 && return 0
    echo "installing Debian's nodejs and npm (the web UI's build needs them)"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    { $sudo apt-get install -y --no-install-recommends nodejs npm >/dev/null 2>&1 \
        || { $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends nodejs npm; }; } \
        || die "could not install npm (apt-get install nodejs npm) for the web UI's build"
}

run_cargo() {
    ensure_npm
    step "cargo test --workspace --locked"
    if cargo test --workspace --locked; then
        note "cargo test: ok"
    else
        note "cargo test: FAILED"
        FAILED=1
    fi
    local engine
    for engine in $DATABASES; do
        [[ "$engine" == "sqlite" ]] && continue
        step "HTTP integration tests on $engine"
        if FERROFLOW_TEST_DATABASE="$engine" cargo test --locked -p ferroflow-server --test it; then
            note "cargo test ($engine): ok"
        else
            note "cargo test ($engine): FAILED"
            FAILED=1
        fi
    done

    step "cargo build --release --locked -p ferroflow-cli"
    if cargo build --release --locked -p ferroflow-cli; then
        note "cargo build --release: ok"
    else
        note "cargo build --release: FAILED"
        FAILED=1
    fi
}

# ------------------------------------------------------------------ 4. venvs
ensure_venv() { # ensure_venv <name>  -> .venv/<name> from tests/requirements-<name>.txt
    local name=$1
    local venv="$REPO_ROOT/.venv/$name"
    local req="$REPO_ROOT/tests/requirements-$name.txt"
    local stamp="$venv/.requirements.sha256"
    [[ -f "$req" ]] || die "missing $req"

    local want
    want="$(cat "$req" <("$PYTHON" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import sys' 2>/dev/null \
        && [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
        echo "venv $name: up to date"
        return 0
    fi

    if ! { [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import sys' 2>/dev/null; }; then
        echo "venv $name: creating"
        rm -rf "$venv"
        "$PYTHON" -m venv "$venv"
    else
        echo "venv $name: refreshing"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
    echo "venv $name: ready ($("$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null \
        | grep -iE '^(mlflow|mlflow-skinny|moto(\[[a-z,]*\])?)==' | tr '\n' ' ' | sed 's/ $//'))"
}

# ------------------------------------------------------------------ 1b. S3 (moto)
stop_s3() {
    if [[ -n "$S3_PID" ]] && kill -0 "$S3_PID" 2>/dev/null; then
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
    fi
    S3_PID=""
    if [[ -n "$S3_LOG" ]]; then
        rm -f "$S3_LOG"
    fi
}

s3_ready() { # s3_ready <endpoint>
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/", timeout=2)' "$1"
}

start_s3() {
    step "S3-compatible server"
    if [[ -n "${FERROFLOW_TEST_S3_ENDPOINT:-}" ]]; then
        export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
        export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
        export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
        export MLFLOW_S3_ENDPOINT_URL="$FERROFLOW_TEST_S3_ENDPOINT"
        wait_until 30 "S3 endpoint $FERROFLOW_TEST_S3_ENDPOINT" s3_ready "$FERROFLOW_TEST_S3_ENDPOINT"
        note "s3:        external endpoint $FERROFLOW_TEST_S3_ENDPOINT"
        return 0
    fi
    ensure_venv s3
    local port
    port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    S3_LOG="$(mktemp)"
    "$REPO_ROOT/.venv/s3/bin/moto_server" -H 127.0.0.1 -p "$port" >"$S3_LOG" 2>&1 &
    S3_PID=$!
    export FERROFLOW_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
    export MLFLOW_S3_ENDPOINT_URL="$FERROFLOW_TEST_S3_ENDPOINT"
    export AWS_ACCESS_KEY_ID=testing
    export AWS_SECRET_ACCESS_KEY=testing
    export AWS_DEFAULT_REGION=us-east-1
    local i
    for ((i = 0; i < 60; i++)); do
        if s3_ready "$FERROFLOW_TEST_S3_ENDPOINT" >/dev/null 2>&1; then
            echo "moto_server: ready at $FERROFLOW_TEST_S3_ENDPOINT (pid $S3_PID)"
            note "s3:        moto_server at $FERROFLOW_TEST_S3_ENDPOINT"
            return 0
        fi
        if ! kill -0 "$S3_PID" 2>/dev/null; then
            break
        fi
        sleep 1
    done
    cat "$S3_LOG" >&2 || true
    die "moto_server did not become ready at $FERROFLOW_TEST_S3_ENDPOINT"
}

# ------------------------------------------------------------------ 5. pytest
run_pytest() { # run_pytest <label> <venv name> <test dir> [pytest args...]  (env set by the caller)
    local label=$1 name=$2 dir=$3
    shift 3
    local venv="$REPO_ROOT/.venv/$name"
    local log
    log="$(mktemp)"
    local rc=0
    FERROFLOW_BIN="${FERROFLOW_BIN:-$REPO_ROOT/target/release/ferroflow}" PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest "$dir" -q "$@" 2>&1 \
        | tee "$log" || rc=${PIPESTATUS[0]}

    local line passed failed errors skipped
    line="$(grep -E '^=*.*[0-9]+ (passed|failed|error|errors|skipped|deselected)|no tests ran' "$log" | tail -n 1 || true)"
    passed="$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)"
    failed="$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)"
    errors="$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || echo 0)"
    skipped="$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)"
    rm -f "$log"
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed + errors))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))

    local counts="$passed passed, $failed failed, $errors errors, $skipped skipped"
    if [[ $rc -eq 0 ]]; then
        note "$label: ok ($counts)"
    elif [[ $rc -eq 5 ]]; then
        note "$label: FAILED - no tests were collected (pytest exit 5)"
        FAILED=1
    else
        note "$label: FAILED (pytest exit $rc; $counts)"
        FAILED=1
    fi
}

run_suite() { # run_suite <venv name> <engine> [pytest args...]
    local name=$1 engine=$2
    shift 2
    step "compatibility suite with $name client on $engine"
    FERROFLOW_TEST_DATABASE="$engine" run_pytest "compat ($name, $engine)" "$name" "$REPO_ROOT/tests/compat" "$@"
}

# ------------------------------------------------------------------ 5b. db import
run_import_suite() { # stock MLflow servers (3.17 on each engine, 2.22 on MySQL) fill the sources
    step "db import suite (stock mlflow servers as the sources)"
    ensure_venv mlflow-server
    ensure_venv mlflow2-server
    FERROFLOW_MLFLOW2_VENV="$REPO_ROOT/.venv/mlflow2-server" \
        run_pytest "import (mlflow 3.17 and 2.22 sources)" mlflow-server "$REPO_ROOT/tests/import"
}

# ------------------------------------------------------------------ 6. UI end-to-end
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1; then
        return 0
    fi
    echo "installing Debian's chromium"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y --no-install-recommends chromium fonts-liberation >/dev/null 2>&1 \
        || { $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends chromium fonts-liberation; } \
        || die "could not install chromium (apt-get install chromium) for the UI tests"
}

run_ui_suite() {
    step "web UI end-to-end suite (Chromium)"
    ensure_npm
    ensure_chromium
    (cd "$REPO_ROOT/tests/ui" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/ui failed"
    local log rc=0
    log="$(mktemp)"
    FERROFLOW_BIN="$REPO_ROOT/target/release/ferroflow" FERROFLOW_UI_PYTHON="$REPO_ROOT/.venv/mlflow3/bin/python" \
        timeout 1200 node --test --test-concurrency=1 --test-reporter=tap "$REPO_ROOT/tests/ui/ui.test.mjs" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
    local passed failed
    passed="$(grep -oE '^# pass [0-9]+' "$log" | grep -oE '[0-9]+' | tail -n 1 || echo 0)"
    failed="$(grep -oE '^# fail [0-9]+' "$log" | grep -oE '[0-9]+' | tail -n 1 || echo 0)"
    rm -f "$log"
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    if [[ $rc -eq 0 && $passed -gt 0 ]]; then
        note "ui (chromium): ok ($passed passed)"
    else
        note "ui (chromium): FAILED (node exit $rc; $passed passed, $failed failed)"
        FAILED=1
    fi
}

# ------------------------------------------------------------------ cleanup
drop_test_databases() { # the per-test databases of the Rust tests and the suite
    local db
    if pg_isready -h 127.0.0.1 -q 2>/dev/null; then
        for db in $(psql -h 127.0.0.1 -U postgres -d postgres -Atq \
            -c "SELECT datname FROM pg_database WHERE datname LIKE 'ff\_it\_%' OR datname LIKE 'ff\_compat\_%'" 2>/dev/null); do
            psql -h 127.0.0.1 -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
        done
    fi
    if mysqladmin -h127.0.0.1 -uroot ping >/dev/null 2>&1; then
        for db in $(mysql -h127.0.0.1 -uroot -N -e \
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'ff\_it\_%' OR schema_name LIKE 'ff\_compat\_%'" 2>/dev/null); do
            mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS \`$db\`" >/dev/null 2>&1 || true
        done
    fi
}

cleanup() {
    stop_s3
    drop_test_databases
}

# ------------------------------------------------------------------ main
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "${FERROFLOW_SKIP_SERVICES:-}" == "1" ]]; then
    note "services:  skipped (FERROFLOW_SKIP_SERVICES=1)"
else
    start_services
fi
start_s3

if [[ "${FERROFLOW_SKIP_CARGO:-}" == "1" ]]; then
    note "cargo:     skipped (FERROFLOW_SKIP_CARGO=1)"
else
    run_cargo
fi

step "python venvs"
for name in $VENVS; do
    ensure_venv "$name"
done

for name in $VENVS; do
    for engine in $DATABASES; do
        run_suite "$name" "$engine" "$@"
    done
done

if [[ "${FERROFLOW_SKIP_IMPORT:-}" == "1" ]]; then
    note "import:    skipped (FERROFLOW_SKIP_IMPORT=1)"
else
    run_import_suite
fi

if [[ "${FERROFLOW_SKIP_UI:-}" == "1" ]]; then
    note "ui:        skipped (FERROFLOW_SKIP_UI=1)"
elif [[ " $VENVS " == *" mlflow3 "* ]]; then
    run_ui_suite
else
    note "ui:        skipped (it seeds with the mlflow3 client, not in FERROFLOW_VENVS)"
fi

printf '\n==> summary\n'
for line in "${SUMMARY[@]}"; do
    printf '  %s\n' "$line"
done
if [[ $FAILED -ne 0 ]]; then
    printf 'RESULT: FAILED\n'
else
    printf 'RESULT: ok\n'
fi
printf 'compat and ui: %d passed, %d failed, %d skipped\n' "$TOTAL_PASSED" "$TOTAL_FAILED" "$TOTAL_SKIPPED"
exit "$FAILED"
