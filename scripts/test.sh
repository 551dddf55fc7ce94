#!/usr/bin/env bash
# The whole test suite, as the README gives it:
#   1. every Rust test (unit + integration) on SQLite;
#   2. the same suite on PostgreSQL (FEDISHOP_TEST_POSTGRES_URL, or the local server at
#      127.0.0.1:5432 when it answers; each test creates its own database);
#   3. the browser tests in headless Chromium (scripts/browser-tests.sh);
#   4. the federation interop tests against a real Fedify peer (scripts/interop-tests.sh).
# Set FEDISHOP_SKIP_BROWSER=1 or FEDISHOP_SKIP_INTEROP=1 to leave out step 3 or 4 while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."

run_suite() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
  else
    cargo test --no-fail-fast "$@"
  fi
}

echo "== Rust tests on SQLite"
env -u FEDISHOP_TEST_POSTGRES_URL bash -c "$(declare -f run_suite); run_suite"

pg_url="${FEDISHOP_TEST_POSTGRES_URL:-}"
if [ -z "$pg_url" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_url="postgres://postgres@127.0.0.1:5432/test"
fi
if [ -n "$pg_url" ]; then
  echo "== Rust tests on PostgreSQL ($pg_url)"
  if command -v psql >/dev/null 2>&1; then
    # Drop databases left behind by earlier runs (each test creates one).
    psql "$pg_url" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'fedishop_test_%'" |
      while read -r db; do psql "$pg_url" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null; done
  fi
  FEDISHOP_TEST_POSTGRES_URL="$pg_url" run_suite
else
  echo "!! PostgreSQL not reachable and FEDISHOP_TEST_POSTGRES_URL unset: PostgreSQL run SKIPPED" >&2
fi

if [ "${FEDISHOP_SKIP_BROWSER:-}" = "1" ]; then
  echo "!! FEDISHOP_SKIP_BROWSER=1: browser tests SKIPPED" >&2
else
  echo "== Browser tests (headless Chromium)"
  scripts/browser-tests.sh
fi

if [ "${FEDISHOP_SKIP_INTEROP:-}" = "1" ]; then
  echo "!! FEDISHOP_SKIP_INTEROP=1: interop tests SKIPPED" >&2
else
  echo "== Interop tests (Fedify peer)"
  scripts/interop-tests.sh
fi
