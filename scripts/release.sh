#!/usr/bin/env bash
# The production build: an optimised server binary and the optimised site (wasm through wasm-opt,
# CSS, public files). Run it with
#   target/release/flightdeck serve --site-root target/site --database-url sqlite:///var/lib/flightdeck.db
# (copy target/release/flightdeck with the hash.txt beside it, and target/site, anywhere; nothing
# else is needed: hash.txt names the site's files, which are named by their content).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Panic messages name their source files; built from the registry's paths they would carry the
# builder's home directory into the shipped wasm. Name them from the crate instead.
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  if [ -d "$registry" ]; then RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$registry="; fi
done
export RUSTFLAGS
# --split: the board comes with the main wasm, every other page's code in chunks it loads when
# first shown (`app/src/pages/lazy.rs`).
cargo leptos build --release --split
# A `.gz` beside each file, which the server sends to browsers that take gzip.
pkg=target/site/pkg
find "$pkg" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' \) -exec gzip -9 -k -f {} \;
# Named by content (`hash-files`): flightdeck.<hash>.wasm.
wasm=$(ls "$pkg"/flightdeck.*.wasm)
echo "built target/release/flightdeck and target/site; $wasm is $(wc -c < "$wasm") bytes, $(wc -c < "$wasm.gz") gzipped"
echo "the other pages' chunks: $(cat "$pkg"/split_*.wasm.gz "$pkg"/chunk_*.wasm.gz | wc -c) bytes gzipped in all"
