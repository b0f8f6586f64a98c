# Every task of the project. `./dev <recipe>` installs what is missing first.

set shell := ["bash", "-euo", "pipefail", "-c"]

cache := env("RT_CACHE_DIR", env("HOME") + "/.cache/rt-server")
redocly_version := "2.77.0"
redocly := cache / "tools/redocly-" + redocly_version / "node_modules/.bin/redocly"
schemathesis_version := "4.32.5"
schemathesis_venv := cache / "tools/schemathesis-" + schemathesis_version
demo_id := "00000000-0000-4000-8000-00000000de70"

# List the recipes.
default:
    @{{just_executable()}} --list

# Install the tools the checks need (idempotent).
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x "{{redocly}}" ]; then
        echo "setup: installing @redocly/cli {{redocly_version}}" >&2
        mkdir -p "{{cache}}/tools/redocly-{{redocly_version}}"
        npm install --silent --no-audit --no-fund --prefix "{{cache}}/tools/redocly-{{redocly_version}}" "@redocly/cli@{{redocly_version}}" >/dev/null
    fi
    if ! "{{schemathesis_venv}}/bin/st" --version 2>/dev/null | grep -qx "st, version {{schemathesis_version}}"; then
        echo "setup: installing schemathesis {{schemathesis_version}}" >&2
        if ! python3 -c 'import ensurepip' 2>/dev/null; then
            # Debian's python3 has no ensurepip (so no `python3 -m venv`) without it.
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        fi
        rm -rf "{{schemathesis_venv}}"
        python3 -m venv "{{schemathesis_venv}}"
        "{{schemathesis_venv}}/bin/pip" install --quiet --disable-pip-version-check "schemathesis=={{schemathesis_version}}"
    fi
    # The panel's browser tests: Debian's Chromium, driven by playwright-core
    # (pinned in server/ui/package-lock.json; it downloads no browser).
    if [ ! -x /usr/bin/chromium ]; then
        echo "setup: installing chromium (Debian)" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    fi
    if ! cmp -s server/ui/package-lock.json server/ui/node_modules/.rt-installed-lock 2>/dev/null; then
        echo "setup: installing the panel's test tools (npm ci in server/ui)" >&2
        npm ci --silent --no-audit --no-fund --prefix server/ui >/dev/null
        cp server/ui/package-lock.json server/ui/node_modules/.rt-installed-lock
    fi

# Run the server on 127.0.0.1:3546 (data in rt-data/) with a running demo instance.
# Extra arguments go to rt-server (e.g. `./dev run --ip 0.0.0.0`).
run *args: build
    #!/usr/bin/env bash
    set -euo pipefail
    target="${CARGO_TARGET_DIR:-target}"
    "$target/debug/rt-server" --data-dir rt-data {{args}} &
    server=$!
    trap 'kill -INT $server 2>/dev/null; wait $server' INT TERM
    base="http://127.0.0.1:3546"
    for _ in $(seq 100); do
        curl -fsS "$base/v1/core/version" >/dev/null 2>&1 && break
        kill -0 $server 2>/dev/null || exit 1
        sleep 0.1
    done
    # The demo instance: created once (it is persistent), started each run,
    # on the test clip, looping. debugMode sends every track update, so a
    # newcomer sees live `track` events at once (RT sends only those that
    # take part in an analytics event).
    i="$base/v1/core/instance/{{demo_id}}"
    curl -sS -o /dev/null -X PUT "$i" -H 'Content-Type: application/json' \
        -d '{"name": "Demo", "solution": "securt", "persistent": true, "debugMode": true}'
    curl -sS -o /dev/null -X POST "$i/config" -H 'Content-Type: application/json' \
        -d '{"path": "debugMode", "jsonValue": "true"}'
    curl -sS -o /dev/null -X POST "$i/input" -H 'Content-Type: application/json' \
        -d "{\"type\": \"File\", \"uri\": \"$RT_TEST_VIDEO\"}"
    curl -sS -o /dev/null -X POST "$i/start"
    echo "rt-server is up on $base with a demo instance on vtest.avi. Watch its events:" >&2
    echo "  curl -N $i/consume_events_sse" >&2
    echo "Ctrl-C stops the server." >&2
    wait $server

# Build the workspace (debug).
build:
    cargo build --workspace

# Format the code.
fmt:
    cargo fmt --all

# Formatting, clippy with warnings as errors (examples included), the
# published crates' docs without warnings, and the contract lint.
lint: openapi-lint doc
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The docs of rt-client and rt-conformance (target/doc), with warnings as errors.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p rt-client -p rt-conformance

# Lint openapi/openapi.yaml with redocly (no errors allowed).
openapi-lint: setup
    "{{redocly}}" lint openapi/openapi.yaml --format=stylish

# The contract check: lint, the client generates from it, the server keeps it.
openapi-check: openapi-lint
    cargo build -p rt-client
    cargo nextest run -p rt-api --test drift

# Check a running RT-compatible server against the contract, e.g.
# `./dev conformance http://10.0.0.5:3546 --strict-rt --report junit --out report.xml`.
conformance url *args:
    cargo build -p rt-conformance
    "${CARGO_TARGET_DIR:-target}/debug/rt-conformance" --base-url {{url}} {{args}}

# schemathesis against the real server (debug build): generated requests from
# openapi/openapi.yaml, fixed seed, bounded; any 5xx or off-contract answer fails.
schemathesis: setup
    cargo build -p rt-server
    scripts/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/rt-server" "{{schemathesis_venv}}/bin/st"

# Every check: lint, the contract (schemathesis too), unit and integration
# tests. nextest runs last: its summary line ends the output. The examples
# and rt-conformance are built on their own first: tests build and install
# them the way users do, and reuse these builds.
test: lint schemathesis ui-unit
    cargo build -p rt-client --examples
    cargo build -p rt-conformance
    cargo test --workspace --doc
    cargo nextest run --workspace --profile ci

# The panel's pure modules (editor geometry, SSE parsing, formatting), with
# Node's own test runner. The panel in a real browser is an integration test
# (server/tests/integration/panel.rs).
ui-unit:
    node --test server/ui/tests/unit/

# Benchmarks (release build): appends machine, date and figures to bench/RESULTS.md.
bench: setup
    cargo build --release -p rt-server -p rt-bench
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" "${CARGO_TARGET_DIR:-target}/release/rt-server"
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --churn "${CARGO_TARGET_DIR:-target}/release/rt-server"
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --panel "${CARGO_TARGET_DIR:-target}/release/rt-server"
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --security "${CARGO_TARGET_DIR:-target}/release/rt-server"
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --scale "${CARGO_TARGET_DIR:-target}/release/rt-server"
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --db

# Whether memory stays flat: two instances looping the clip, reconfigured
# every 2 s, for MINUTES (issue 17 uses 10); appends to bench/RESULTS.md.
bench-soak minutes="10":
    cargo build --release -p rt-server -p rt-bench
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --soak {{minutes}} "${CARGO_TARGET_DIR:-target}/release/rt-server"

# The store benchmarks alone (issue 5: ingest and query latency on SQLite and
# PostgreSQL, 1,000,000 events); appends to bench/RESULTS.md.
bench-db:
    cargo build --release -p rt-bench
    "${CARGO_TARGET_DIR:-target}/release/rt-bench" --db

# What CI runs.
ci: test
