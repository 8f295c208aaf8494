#!/usr/bin/env bash
# The production build: an optimised server binary and the optimised site (wasm through wasm-opt,
# CSS, public files). Run it with
#   target/release/flightdeck serve --site-root target/site --database-url sqlite:///var/lib/flightdeck.db
# (copy target/release/flightdeck and target/site anywhere; nothing else is needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo leptos build --release
wasm=target/site/pkg/flightdeck.wasm
echo "built target/release/flightdeck and target/site; $wasm is $(wc -c < "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
