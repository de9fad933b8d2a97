#!/usr/bin/env bash
# Runs every kulisse test on a fresh machine: formatting and lints, the Rust unit and
# integration tests (real HTTP server, real SQLite files, a real PostgreSQL server started
# here, files on local disk and in an S3-compatible bucket of a moto server started here,
# mail through an SMTP sink started here),
# then the official PocketBase JS SDK suite and the Python SDK's realtime check
# against a freshly started `kulisse serve` on each engine, and the dashboard in headless
# Chromium on each engine. Installs what the tests need (Node.js, PostgreSQL, Chromium, a
# Python virtualenv with moto and the pinned SDK).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0

step() { printf '\n==> %s\n' "$*"; }

step "tools"
missing=""
for tool in node:nodejs npm:npm curl:curl jq:jq python3:python3; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
node --version
cargo --version

step "PostgreSQL server for the engine matrix"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_opts="-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1"
as_pg "$pg_bin/initdb -A trust -U kulisse --locale=C -E UTF8 -D $pg_dir/data" >/dev/null
as_pg "$pg_bin/pg_ctl -D $pg_dir/data -l $pg_dir/log -o '$pg_opts' -w start" >/dev/null
cleanup_pg() { as_pg "$pg_bin/pg_ctl -D $pg_dir/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
trap cleanup_pg EXIT
export KULISSE_TEST_PG_URL="postgres://kulisse@127.0.0.1:$pg_port/postgres"
# The restart test crashes and restarts the server under a write burst.
restart_cmd="$pg_bin/pg_ctl -D $pg_dir/data -l $pg_dir/log -o '$pg_opts' -m immediate -w restart"
if [ "$(id -u)" = 0 ]; then restart_cmd="su postgres -c \"$restart_cmd\""; fi
printf '#!/bin/sh\n%s\n' "$restart_cmd" >"$pg_dir/restart.sh"
chmod +x "$pg_dir/restart.sh"
restart_script="$pg_dir/restart.sh"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $pg_port"

step "S3-compatible server (moto) and SMTP sink (aiosmtpd) for the tests, and the Python SDK"
# One throwaway virtualenv, pinned: moto's server mode, aiosmtpd and the official Python SDK
# (PyPI `pocketbase`).
py_env=$(mktemp -d)
python3 -m venv "$py_env" 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$py_env"
}
"$py_env/bin/pip" install -q --disable-pip-version-check -r scripts/test-servers-requirements.txt \
    -r sdk-tests/python/requirements.txt
s3_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py_env/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$py_env/moto.log" 2>&1 &
s3_server=$!
smtp_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
maildir="$py_env/maildir"
mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur"
"$py_env/bin/python" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$maildir" \
    >"$py_env/smtp.log" 2>&1 &
smtp_server=$!
cleanup() { kill "$s3_server" "$smtp_server" 2>/dev/null || true; cleanup_pg; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$s3_port/" >/dev/null 2>&1 && break
    sleep 0.1
done
export KULISSE_TEST_S3_URL="http://127.0.0.1:$s3_port"
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $smtp_port), 1)" 2>/dev/null && break
    sleep 0.1
done
# Every message the SMTP sink receives lands in this Maildir, where tests read it.
export KULISSE_TEST_SMTP="127.0.0.1:$smtp_port" KULISSE_TEST_MAILDIR="$maildir"
# The metrics tests parse scrapes with this interpreter's prometheus_client.
export KULISSE_TEST_PYTHON="$py_env/bin/python"
echo "moto $("$py_env/bin/pip" show moto | sed -n 's/^Version: //p') on port $s3_port, aiosmtpd on port $smtp_port"

step "format, lints and the dependency rules of ARCHITECTURE.md"
cargo fmt --all -- --check
python3 scripts/check_deps.py
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests (SQLite and PostgreSQL)"
cargo test --workspace --locked

step "the build with OpenTelemetry export (feature otel): lints and its export test"
cargo clippy -p kulisse --features otel --all-targets --locked -- -D warnings
cargo test -p kulisse --features otel --locked --test otel

step "PostgreSQL crash under a write burst (alone: it restarts the shared test server)"
KULISSE_TEST_PG_RESTART="$restart_script" cargo test --locked -p kulisse --test it -- --exact multinode::acknowledged_writes_survive_a_postgres_restart

(cd sdk-tests && npm ci --no-audit --no-fund --loglevel=error)
# Starts `kulisse serve` on a free port with data dir $1, the global arguments that follow
# (the engine) and, after `--`, arguments for `serve` only; sets $server (its pid), $url
# and $log.
start_kulisse() {
    local dir=$1 global=() only=()
    shift
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do global+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    only=("$@")
    log="$dir.log"
    target/debug/kulisse superuser upsert admin@example.com 1234567890 --dir "$dir" "${global[@]}" >/dev/null
    target/debug/kulisse serve --http 127.0.0.1:0 --dir "$dir" --publicDir "$dir/public" \
        "${global[@]}" "${only[@]}" >"$log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        grep -q '^Server started at ' "$log" 2>/dev/null && break
        sleep 0.1
    done
    url=$(sed -n 's/^Server started at //p' "$log" | head -n 1)
    [ -n "$url" ] || { cat "$log"; kill "$server"; echo "kulisse did not start" >&2; return 1; }
}
# The SDK suites sign in from one address far more often than the default rate limits let
# a client (they are on for the auth endpoints): the server at $1 exempts loopback.
exempt_loopback() {
    local token
    token=$(curl -fsS -X POST "$1/api/collections/_superusers/auth-with-password" \
        -H 'Content-Type: application/json' \
        -d '{"identity":"admin@example.com","password":"1234567890"}' |
        jq -r .token) || return 1
    curl -fsS -X PATCH "$1/api/settings" -H "Authorization: $token" \
        -H 'Content-Type: application/json' \
        -d '{"rateLimits":{"excludedIPs":["127.0.0.1","::1"]}}' >/dev/null
}
# Runs the SDK suite against a fresh `kulisse serve`; extra arguments pick the engine. A
# second server whose realtime streams end after 2 s serves the resume test (on
# PostgreSQL, a second node on the same database).
sdk_suite() {
    local data server url log short short_url
    data=$(mktemp -d)
    start_kulisse "$data/short" "$@" -- --realtime-max-lifetime 2s || return 1
    short=$server short_url=$url
    exempt_loopback "$short_url" || { kill "$short"; return 1; }
    start_kulisse "$data/pb" "$@" || { kill "$short"; return 1; }
    exempt_loopback "$url" || { kill "$server" "$short"; return 1; }
    (cd sdk-tests && KULISSE_URL="$url" KULISSE_SHORT_LIVED_URL="$short_url" npm test) ||
        { kill "$server" "$short"; return 1; }
    KULISSE_URL="$url" "$py_env/bin/python" -m pytest -q -p no:cacheprovider \
        sdk-tests/python/test_realtime.py || { kill "$server" "$short"; return 1; }
    kill -TERM "$server" "$short"
    wait "$server" "$short"
    grep -q 'database closed' "$log" || { cat "$log"; echo "kulisse did not shut down cleanly" >&2; return 1; }
    rm -rf "$data"
}

step "SDK suites (official pocketbase npm and PyPI packages) against kulisse serve on SQLite"
sdk_suite

step "SDK suites against kulisse serve on PostgreSQL, files in an S3 bucket"
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kulisse sdk
KULISSE_S3_URL="$KULISSE_TEST_S3_URL" sdk_suite --db "postgres://kulisse@127.0.0.1:$pg_port/sdk"

step "the dashboard in headless Chromium (Debian's chromium, playwright-core and axe-core from npm), on SQLite and on PostgreSQL"
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version
(cd dashboard-tests && npm ci --no-audit --no-fund --loglevel=error && npm test)
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kulisse dashboard
(cd dashboard-tests && KULISSE_DB="postgres://kulisse@127.0.0.1:$pg_port/dashboard" npm test)
echo "screenshots: dashboard-tests/artifacts/"

step "README: every command block exactly as written (the install is a release build)"
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kulisse readme
python3 scripts/readme_test.py --pg-url "postgres://kulisse@127.0.0.1:$pg_port/readme"

step "all tests passed"
