#!/usr/bin/env bash
# Installs everything the build and the tests need, at pinned versions.
# Idempotent: each step checks what is already there and skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=132
# Must equal the wasm-bindgen version in Cargo.lock (pinned with `=` in Cargo.toml).
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock 2>/dev/null | sed -n 's/^version = "\(.*\)"/\1/p' | head -1 || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}

log() { printf '[setup] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes the first time)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lock file pins a crate the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian chromium"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi

# Release builds run wasm-opt (cargo-leptos takes it from PATH, else tries a download that fails
# offline): npm's binaryen package ships one. Scripts put .tools/node_modules/.bin on PATH.
if [ "$(.tools/node_modules/.bin/wasm-opt --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
  log "installing binaryen $BINARYEN_VERSION (wasm-opt) into .tools"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --no-save "binaryen@$BINARYEN_VERSION"
fi

if [ -f end2end/package-lock.json ]; then
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    log "installing end2end npm packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
# The end-to-end suite runs the real Claude Code CLI (its hooks held by Flightdeck) against a
# scripted model endpoint. Pinned: before 2.1.268 its PermissionRequest hook never fired in `-p` mode.
CLAUDE_CODE_VERSION=2.1.337
if [ "$(.tools/claude/node_modules/.bin/claude --version 2>/dev/null | awk '{print $1}')" != "$CLAUDE_CODE_VERSION" ]; then
  log "installing Claude Code $CLAUDE_CODE_VERSION into .tools/claude"
  mkdir -p .tools/claude
  npm install --prefix .tools/claude --no-audit --no-fund --no-save "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"
fi
# The integration suite runs the OpenTelemetry SDKs as their users do (tests/clients/): the Python
# SDK in a virtualenv under .tools, the JS SDK from its own lock file.
if [ ! -x .tools/otel-venv/bin/python ] || [ tests/clients/otel-python/requirements.txt -nt .tools/otel-venv/installed ]; then
  log "installing the OpenTelemetry Python SDK into .tools/otel-venv"
  python3 -m venv .tools/otel-venv
  .tools/otel-venv/bin/pip install --quiet --disable-pip-version-check -r tests/clients/otel-python/requirements.txt
  touch .tools/otel-venv/installed
fi
if [ ! -d tests/clients/otel-js/node_modules/@opentelemetry/sdk-trace-base ] || [ tests/clients/otel-js/package-lock.json -nt tests/clients/otel-js/node_modules/.package-lock.json ]; then
  log "installing the OpenTelemetry JS SDK into tests/clients/otel-js"
  (cd tests/clients/otel-js && npm ci --no-audit --no-fund)
fi
# The integration suite runs on PostgreSQL too (127.0.0.1:5432, database `test`): start the local
# cluster when it is installed and down.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ -d /etc/postgresql ]; then
    log "starting PostgreSQL"
    for version in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
  fi
fi
log "ready"
