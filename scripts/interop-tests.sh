#!/usr/bin/env bash
# Federation interop tests: a real Fedify peer (tests/interop/fedify-peer.mjs) against the fedishop
# binary, both on loopback (tests/interop/fedishop-interop.test.mjs).
#
#   scripts/interop-tests.sh            # builds target/debug/fedishop, runs the tests on SQLite
#   FEDISHOP_BIN=path/to/fedishop scripts/interop-tests.sh      # test that binary, skip the build
#   FEDISHOP_DATABASE_URL=postgres://... scripts/interop-tests.sh   # on an EMPTY PostgreSQL db
#   FEDISHOP_KEEP_TMP=1 ...             # keep the temp dir (both logs, what the peer received)
#   PEER_LOG=debug ...                  # Fedify's own log level in the peer log (default warning)
#
# Needs Node.js >= 20 and, the first time, the npm registry. Works from any directory.
set -euo pipefail

# A relative FEDISHOP_BIN means relative to the caller's directory.
if [[ -n "${FEDISHOP_BIN:-}" ]]; then
  FEDISHOP_BIN="$(realpath -- "$FEDISHOP_BIN")"
  export FEDISHOP_BIN
fi

cd "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "interop-tests: node (>= 20) is not installed" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
  echo "interop-tests: need node >= 20, found $(node -v)" >&2
  exit 1
fi

(
  cd tests/interop
  # Install when missing, or when the lock file changed since the last install.
  if [[ ! -d node_modules/@fedify/fedify || package-lock.json -nt node_modules/.package-lock.json ]]; then
    if [[ -f package-lock.json ]]; then
      npm ci --no-audit --no-fund
    else
      npm install --no-audit --no-fund
    fi
  fi
)

if [[ -z "${FEDISHOP_BIN:-}" ]]; then
  cargo build --bin fedishop
fi

# Explicit files: `node --test DIR` only works on Node 20 (later versions take globs, not directories).
exec node --test tests/interop/*.test.mjs
