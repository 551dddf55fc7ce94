#!/usr/bin/env bash
# Browser tests: the storefront scenario in Debian's headless Chromium (tests/browser).
#
#   scripts/browser-tests.sh            # builds target/debug/fedishop, runs the tests on SQLite
#   FEDISHOP_BIN=path/to/fedishop scripts/browser-tests.sh      # test that binary, skip the build
#   FEDISHOP_DATABASE_URL=postgres://... scripts/browser-tests.sh   # on an EMPTY PostgreSQL db
#   FEDISHOP_KEEP_TMP=1 ...             # keep the temp dir (server log, screenshots on failure)
#
# Installs the `chromium` Debian package when /usr/bin/chromium is missing (needs root or sudo).
# Works from any directory.
set -euo pipefail

# A relative FEDISHOP_BIN means relative to the caller's directory.
if [[ -n "${FEDISHOP_BIN:-}" ]]; then
  FEDISHOP_BIN="$(realpath -- "$FEDISHOP_BIN")"
  export FEDISHOP_BIN
fi

cd "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/.."

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "browser-tests: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

if [[ ! -x /usr/bin/chromium ]]; then
  echo "browser-tests: installing Debian's chromium" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

(
  cd tests/browser
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
)

if [[ -z "${FEDISHOP_BIN:-}" ]]; then
  cargo build --bin fedishop
fi

cd tests/browser
exec npm test
