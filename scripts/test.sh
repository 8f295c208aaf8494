#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real server, real SQLite and PostgreSQL, real
# sockets), then the Playwright suite in Debian chromium against the built server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo leptos build
# The same flags and variables as cargo-leptos' debug build, so the tests reuse its compiled crates.
export RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=flightdeck
cargo test -p flightdeck -p app
# The same integration suite on PostgreSQL, each test server in a schema of its own (dropped after).
FLIGHTDECK_TEST_DATABASE="${FLIGHTDECK_TEST_DATABASE:-postgres://127.0.0.1:5432/test}" cargo test -p flightdeck --test it
# Benchmarks are run by hand (`cargo bench`); here they are only kept compiling.
cargo build -p flightdeck --benches
(cd end2end && npx playwright test)
