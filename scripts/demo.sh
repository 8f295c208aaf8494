#!/usr/bin/env bash
# Runs the dashboard on an embedded SQLite file (./flightdeck.db) with demo traffic flowing into it.
# Extra arguments go to `flightdeck serve` (see `target/debug/flightdeck serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# --split as in the release build: pages other than the board load their code when first shown.
cargo leptos build --split
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
# A sign-in token for this checkout, kept beside the database so every run accepts the same one.
if [ -z "${FLIGHTDECK_TOKEN:-}" ]; then
  [ -s .flightdeck-demo-token ] || (umask 077 && head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > .flightdeck-demo-token)
  FLIGHTDECK_TOKEN="fd_demo_$(cat .flightdeck-demo-token)"
  export FLIGHTDECK_TOKEN
fi
echo
echo "Sign in at http://${FLIGHTDECK_ADDR:-127.0.0.1:3000} with this token: $FLIGHTDECK_TOKEN"
echo
exec target/debug/flightdeck serve --demo "$@"
