#!/usr/bin/env bash
# Builds scripts/wasm-floor (a minimal board-shaped Leptos page) the way scripts/release.sh builds
# the site's wasm, and prints its size: the framework's floor under the board's wasm.
set -euo pipefail
cd "$(dirname "$0")/wasm-floor"
export PATH="$PWD/../../.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export RUSTFLAGS="--cfg erase_components"
# As scripts/release.sh does: panic locations named from the crate, not the builder's home.
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  if [ -d "$registry" ]; then RUSTFLAGS="$RUSTFLAGS --remap-path-prefix=$registry="; fi
done
cargo build --lib --target wasm32-unknown-unknown --profile wasm-release --target-dir ../../target/wasm-floor
out=../../target/wasm-floor/site
wasm-bindgen --target web --out-dir "$out" ../../target/wasm-floor/wasm32-unknown-unknown/wasm-release/wasm_floor.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue "$out/wasm_floor_bg.wasm" -o "$out/floor.wasm"
echo "the framework's floor: $(wc -c < "$out/floor.wasm") bytes, $(gzip -9 -c "$out/floor.wasm" | wc -c) gzipped"
