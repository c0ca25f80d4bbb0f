#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of the postgresql metadata backend.
#
#   eval "$(scripts/postgres.sh start DIR)"   # prints: export DAVBIND_TEST_POSTGRES_URL=...
#   scripts/postgres.sh stop DIR
#
# DIR must be empty or missing; the cluster, its log and its unix socket live there.  It
# listens on 127.0.0.1 on a free port (and on a socket in DIR), trusts the superuser
# role `davbind` without a password, and trades durability for speed (fsync off): it
# only ever holds test data.  initdb refuses to run as root, so as root the server runs
# as the `postgres` user (installed with the Debian package `postgresql` when missing).
# When no server can be started, `start` says why on stderr, prints nothing and exits 1:
# the tests that need one are then skipped locally and fail when CI is set.
set -euo pipefail

log() { printf '==> postgres: %s\n' "$*" >&2; }

find_bin() {
    local tool=$1 dir
    if command -v "$tool" >/dev/null 2>&1; then
        command -v "$tool"
        return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/$tool" ]; then
            echo "$dir/$tool"
            return 0
        fi
    done
    return 1
}

ensure_installed() {
    if find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "apt-get install postgresql"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1 port initdb pg_ctl
    if ! ensure_installed; then
        log "initdb/pg_ctl not found and cannot be installed"
        return 1
    fi
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
    fi
    as_owner "$initdb" -D "$dir/data" --auth=trust --username=davbind --encoding=UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
        log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    }
    port=$(free_port)
    # -w waits until the server accepts connections (or its start times out)
    if ! as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=300" start >&2; then
        log "the server did not start; its log:"
        cat "$dir/server.log" >&2 || true
        return 1
    fi
    echo "export DAVBIND_TEST_POSTGRES_URL=postgresql://davbind@127.0.0.1:$port/postgres"
}

stop() {
    local dir=$1
    if [ -d "$dir/data" ]; then
        as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m immediate -w stop >&2 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start "${2:?usage: $0 start DIR}" ;;
    stop) stop "${2:?usage: $0 stop DIR}" ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
