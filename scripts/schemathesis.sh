#!/usr/bin/env bash
# Property-based contract check: schemathesis generates requests from
# openapi/openapi.yaml and sends them to the real rt-server (debug build),
# started here on a free loopback port with a throwaway data directory.
# Any 5xx, any status, content type or body the contract does not list fails.
#
#   scripts/schemathesis.sh SERVER_BINARY ST
#
# ST is schemathesis' `st` (4.32.5; `just setup` installs it under the cache).
# ST_ARGS adds arguments to `st run` (e.g. ST_ARGS='--max-examples 50
# --seed 7' for a longer local run; later options win). ST_CHECKS (e.g.
# `not_a_server_error,response_schema_conformance`) runs only the checks it
# names and ST_EXCLUDE_CHECKS leaves checks out; both are unset in CI, where
# every check runs. A check named in ST_CHECKS also runs on the operations
# that scripts/schemathesis.toml exempts from it (schemathesis lets the
# command line win), so ST_CHECKS=all shows those known findings again.
# Fixed seed and bounded phases: the same requests every run, about a minute
# on two shared cores. Settings per operation: scripts/schemathesis.toml.
set -euo pipefail

usage="usage: scripts/schemathesis.sh SERVER_BINARY ST"
server_bin="$(realpath "${1:?$usage}")"
st="$(realpath "${2:?$usage}")"
cd "$(dirname "$0")/.."

say() { printf 'schemathesis: %s\n' "$*" >&2; }

work="$(mktemp -d)"
server=
# Stops the server (by its PID; SIGKILL if it has not exited 10 s after
# SIGTERM) and removes its data, however the script ends.
cleanup() {
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$server" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No detector: the run is about the HTTP contract, and instances it happens
# to start must not spend the shared cores on inference.
env -u RT_MODEL_PATH -u ORT_DYLIB_PATH -u RT_CONFIG -u RT_DATABASE_URL \
    -u RT_IP -u RT_PORT -u RT_DATA_DIR \
    "$server_bin" --ip 127.0.0.1 --port 0 --data-dir "$work/data" \
    2>"$work/server.log" &
server=$!

addr=
for _ in $(seq 300); do
    addr="$(sed -n 's/.*listening on http:\/\/\([0-9.]*:[0-9]*\).*/\1/p' "$work/server.log" | head -n1)"
    [ -n "$addr" ] && break
    if ! kill -0 "$server" 2>/dev/null; then
        say "rt-server exited before listening:"
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$addr" ]; then
    say "rt-server did not report its address in 30 s:"
    cat "$work/server.log" >&2
    exit 1
fi
say "rt-server on http://$addr"

# The instance that half of the generated instance ids name (see
# scripts/schemathesis.toml).
known=00000000-0000-4000-8000-00000005c4e0
created="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "http://$addr/v1/securt/instance/$known" \
    -H 'Content-Type: application/json' -d '{"name": "schemathesis"}')"
if [ "$created" != 201 ]; then
    say "could not create instance $known (HTTP $created)"
    exit 1
fi

# One worker: the operations share the server's state (the known instance),
# so the order of requests, and so the outcome, is the same every run.
# shutdown_system is left out: its one effect is to stop the server under
# test, after which every operation would fail with "server unavailable".
# get_instance_mjpeg is left out: an endless multipart stream, which
# schemathesis reads to its timeout (SSE aside, it has no notion of a
# stream); the integration tests (server/tests/integration/panel.rs) check it.
# Every check of schemathesis runs (no --checks: that is schemathesis'
# default, and an explicit --checks would override the per-operation
# exemptions). scripts/schemathesis.toml exempts a few operations from a
# check each, where the contract records the behaviour as intended and says
# why (rules the schema cannot express, states, dropshot's merged
# `.../area/{areaRef}` route); each exemption there names its reason.
status=0
# Hypothesis keeps a cache directory; it belongs with the run, not in the tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$work/hypothesis"
# shellcheck disable=SC2086
"$st" --config-file scripts/schemathesis.toml run openapi/openapi.yaml \
    --url "http://$addr" \
    ${ST_CHECKS:+--checks "$ST_CHECKS"} \
    ${ST_EXCLUDE_CHECKS:+--exclude-checks "$ST_EXCLUDE_CHECKS"} \
    --phases examples,coverage,fuzzing \
    --seed 20261127 \
    --max-examples 10 \
    --workers 1 \
    --request-timeout 10 \
    --generation-database none \
    --exclude-operation-id shutdown_system \
    --exclude-operation-id get_instance_mjpeg \
    --no-color \
    ${ST_ARGS:-} || status=$?

if [ "$status" -ne 0 ]; then
    say "failed (st exit $status); rt-server's warnings and errors:"
    grep -E ' (WARN|ERROR) ' "$work/server.log" | tail -n 40 >&2 || true
fi
exit "$status"
