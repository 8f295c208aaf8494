#!/usr/bin/env bash
# Runs the dashboard on an embedded SQLite file (./flightdeck.db) with demo traffic flowing into it.
# Extra arguments go to `flightdeck serve` (see `target/debug/flightdeck serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo leptos build
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
exec target/debug/flightdeck serve --demo "$@"
