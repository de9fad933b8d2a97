#!/usr/bin/env bash
# Runs every kulisse test on a fresh machine: formatting and lints, the Rust unit and
# integration tests (real HTTP server, real SQLite files), then the official PocketBase JS
# SDK suite against a freshly started `kulisse serve`. Installs what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0

step() { printf '\n==> %s\n' "$*"; }

step "tools"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
node --version
cargo --version

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
cargo test --workspace --locked

step "JS SDK suite (official pocketbase npm package) against kulisse serve"
(cd sdk-tests && npm ci --no-audit --no-fund --loglevel=error)
data=$(mktemp -d)
log="$data/serve.log"
bin=target/debug/kulisse
"$bin" superuser upsert admin@example.com 1234567890 --dir "$data/pb" >/dev/null
"$bin" serve --http 127.0.0.1:0 --dir "$data/pb" --publicDir "$data/public" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
    grep -q '^Server started at ' "$log" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^Server started at //p' "$log" | head -n 1)
[ -n "$url" ] || { cat "$log"; echo "kulisse did not start" >&2; exit 1; }
(cd sdk-tests && KULISSE_URL="$url" npm test)
kill -TERM "$server"
wait "$server"
grep -q 'database closed' "$log" || { cat "$log"; echo "kulisse did not shut down cleanly" >&2; exit 1; }

step "all tests passed"
