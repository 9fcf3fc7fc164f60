#!/usr/bin/env bash
# The whole test suite, on a fresh machine with Python 3.11 and pip:
#   1. install every workspace member (editable) and the test tools;
#   2. install Slurm and Grid Engine from Debian's packages when we are root with apt (their
#      tests start a real slurmctld + slurmd, sge_qmaster + sge_execd on localhost themselves);
#   3. run the repository's tests;
#   4. run the conformance suite for every backend available here: local (run mode),
#      flux (render mode everywhere; run mode where `flux` is on PATH), slurm and sge
#      (render mode, and run mode against a real cluster started for each).
# Every pytest run must execute tests: exit code 5 ("no tests collected") counts as failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

step() { printf '\n==== %s ====\n' "$*"; }
# Failures are appended to a file, so that steps running in the background count too.
FAILURES=$(mktemp)
fail() { printf '%s\n' "$*" >> "$FAILURES"; }

pytest_step() {
    # pytest_step LABEL DIR ARGS... : run pytest in DIR, record a failure (exit 5 included).
    local label=$1 dir=$2
    shift 2
    step "$label"
    # PYTEST_WRAP: a command prefix, e.g. "flux start --test-size=4" to run inside Flux.
    (cd "$dir" && ${PYTEST_WRAP:-} python3 -m pytest "$@")
    local rc=$?
    if [ "$rc" -eq 5 ]; then
        echo "$label: pytest collected no tests (exit 5): that is a failure here"
    fi
    if [ "$rc" -ne 0 ]; then
        fail "$label (exit $rc)"
    fi
}

step "install"
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt || exit 1
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    bash .ci/install-slurm.sh || fail "install slurm"
    # Grid Engine likewise: its tests start a private sge_qmaster + sge_execd themselves.
    bash .ci/install-gridengine.sh || fail "install gridengine"
    # apt_need PATH PACKAGE WHAT: install PACKAGE when PATH (a command or a file) is missing.
    apt_need() {
        if command -v "$1" >/dev/null || compgen -G "$1" >/dev/null; then return 0; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -qq --no-install-recommends "$2" >/dev/null; } \
            || echo "$2 could not be installed: $3 will skip"
    }
    # Graphviz's dot draws `jobspec graph --format svg|png` and re-reads the DOT; tmux gives
    # the progress and zsh completion tests a real terminal; zsh and fish run the generated
    # completion scripts.
    apt_need dot graphviz "the graph picture and DOT re-read tests"
    apt_need tmux tmux "the live progress and zsh completion tests"
    apt_need zsh zsh "the zsh completion tests"
    apt_need fish fish "the fish completion tests"
    # The remote tests start a real sshd on 127.0.0.1 (no daemon is started by the package:
    # there is no init system here).
    apt_need /usr/sbin/sshd openssh-server "the SSH tests"
    # The run store's and the service's tests start a private PostgreSQL server.
    apt_need '/usr/lib/postgresql/*/bin/initdb' postgresql "the PostgreSQL store tests"
    # The service's status page is checked in a real headless Chromium over WebDriver.
    apt_need /usr/bin/chromium chromium "the status page test"
    apt_need /usr/bin/chromedriver chromium-driver "the status page test"
else
    echo "not root or no apt-get: Slurm and Grid Engine are not installed; their tests will skip"
fi
# The second validator of the JSON Schema (Ajv, as editors apply the schema), pinned by
# dev/editor-check/package-lock.json.
if command -v npm >/dev/null; then
    npm ci --prefix dev/editor-check --no-audit --no-fund --loglevel=error >/dev/null \
        || echo "npm ci in dev/editor-check failed: the Ajv schema tests will skip"
else
    echo "npm is not on PATH: the Ajv schema tests will skip"
fi

step "lint (ruff, configured once in the root pyproject.toml)"
if ! (python3 -m ruff check . && python3 -m ruff format --check .); then
    fail "lint"
fi

step "types (mypy on jobspec_core, configured in the root pyproject.toml)"
if ! python3 -m mypy; then
    fail "types"
fi

# Conformance runs happen in an empty directory, as a site would run them: the suite comes
# from the installed jobspec-conformance plugin, not from this checkout's files.
CONF_DIR=$(mktemp -d)
trap 'rm -rf "$CONF_DIR" "$FAILURES" "$LOGS"' EXIT
REPORTS="$ROOT/.ci/reports"
mkdir -p "$REPORTS"
# The run-mode suites against real clusters (Slurm, Grid Engine) mostly wait on their jobs:
# they run in the background, beside the repository tests, each on its own private cluster
# with its own conformance directory; their output is printed whole when they end.
LOGS=$(mktemp -d)

slurm_run_suite() {
    local CONF_DIR
    CONF_DIR=$(mktemp -d)
    if command -v slurmctld >/dev/null || [ -x /usr/sbin/slurmctld ]; then
        SLURM_DIR=$(mktemp -d)
        step "start a Slurm cluster for conformance"
        if env_lines=$(python3 -m jobspec_slurm.testing.cluster start --dir "$SLURM_DIR"); then
            eval "$env_lines"
            pytest_step "conformance: slurm (run)" "$CONF_DIR" -p no:cacheprovider \
                --transformer slurm --conformance-report "$REPORTS/slurm-run.json" \
                --conformance-duration-slack 120 --conformance-timeout 300
            python3 -m jobspec_slurm.testing.cluster stop --dir "$SLURM_DIR"
            unset SLURM_CONF
        else
            fail "start slurm cluster"
        fi
    else
        echo "Slurm is not installed: skipping the Slurm run-mode conformance suite"
    fi
    rm -rf "$CONF_DIR"
}

sge_run_suite() {
    local CONF_DIR
    CONF_DIR=$(mktemp -d)
    if [ -x /usr/lib/gridengine/sge_qmaster ]; then
        SGE_DIR=$(mktemp -d)
        step "start a Grid Engine cluster for conformance"
        if env_lines=$(python3 -m jobspec_sge.testing.cluster start --dir "$SGE_DIR"); then
            eval "$env_lines"
            # the test cluster's one host has 8 slots (jobspec_sge.testing.cluster)
            JOBSPEC_SGE_CORES_PER_NODE=8 pytest_step "conformance: sge (run)" "$CONF_DIR" \
                -p no:cacheprovider --transformer sge --conformance-report "$REPORTS/sge-run.json" \
                --conformance-duration-slack 120 --conformance-timeout 300
            python3 -m jobspec_sge.testing.cluster stop --dir "$SGE_DIR"
            unset SGE_ROOT SGE_CELL SGE_QMASTER_PORT SGE_EXECD_PORT
        else
            fail "start gridengine cluster"
        fi
    else
        echo "Grid Engine is not installed: skipping the Grid Engine run-mode conformance suite"
    fi
    rm -rf "$CONF_DIR"
}

slurm_run_suite > "$LOGS/slurm.log" 2>&1 &
SLURM_PID=$!
sge_run_suite > "$LOGS/sge.log" 2>&1 &
SGE_PID=$!


pytest_step "repository tests" "$ROOT" -p no:cacheprovider

pytest_step "conformance: local (run)" "$CONF_DIR" -p no:cacheprovider \
    --transformer local --conformance-report "$REPORTS/local-run.json"
pytest_step "conformance: flux (render)" "$CONF_DIR" -p no:cacheprovider \
    --transformer flux --conformance-mode render --conformance-report "$REPORTS/flux-render.json"
pytest_step "conformance: slurm (render)" "$CONF_DIR" -p no:cacheprovider \
    --transformer slurm --conformance-mode render --conformance-report "$REPORTS/slurm-render.json"
pytest_step "conformance: sge (render)" "$CONF_DIR" -p no:cacheprovider \
    --transformer sge --conformance-mode render --conformance-report "$REPORTS/sge-render.json"

wait "$SLURM_PID"
step "conformance on a real Slurm cluster (ran in the background)"
cat "$LOGS/slurm.log"
wait "$SGE_PID"
step "conformance on a real Grid Engine (ran in the background)"
cat "$LOGS/sge.log"

if command -v flux >/dev/null; then
    # The suite needs an instance to submit to: a private 4-broker test instance (~1.5 s).
    PYTEST_WRAP="flux start --test-size=4" \
        pytest_step "conformance: flux (run, real instance)" "$CONF_DIR" -p no:cacheprovider \
            --transformer flux --conformance-report "$REPORTS/flux-run.json"
else
    echo "flux is not on PATH: skipping the Flux run-mode conformance suite (render mode ran above)"
fi

step "summary"
if [ -s "$FAILURES" ]; then
    sed 's/^/FAILED: /' "$FAILURES"
    exit 1
fi
echo "all test steps passed"
