#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real server, real SQLite and PostgreSQL, real
# sockets), then the Playwright suite in Debian chromium against the production build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# The flags cargo-leptos gives its builds, so these share compiled crates with `cargo leptos build`.
export RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=flightdeck
cargo test -p flightdeck -p app
# The same integration suite on PostgreSQL, each test server in a schema of its own (dropped after).
FLIGHTDECK_TEST_DATABASE="${FLIGHTDECK_TEST_DATABASE:-postgres://127.0.0.1:5432/test}" cargo test -p flightdeck --test it
# Benchmarks are run by hand (`cargo bench`); here they are only kept compiling.
cargo build -p flightdeck --benches
# The browser suite runs against what a deployment runs: the release server and optimised site.
bash scripts/release.sh
(cd end2end && FLIGHTDECK_BIN="$PWD/../target/release/flightdeck" npx playwright test)
