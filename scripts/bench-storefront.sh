#!/usr/bin/env bash
# Storefront benchmark: product-page requests/s and latency of fedishop at 64 connections,
# against nginx serving the same page bytes as a static file (see examples/storefront_bench.rs
# for what is measured and how to read the report).
#
#   scripts/bench-storefront.sh [--seconds N] [--connections C] [--warmup W]
#
# Installs the Debian nginx package if it is missing (needs root), builds the release server
# and the example, and runs the example with the given arguments. Run it on an otherwise idle
# machine: the load generator and the server share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }

if ! have_nginx; then
  echo "== installing nginx (Debian package)"
  before=" $(pgrep -x nginx | tr '\n' ' ') "
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nginx
  # The package's postinst may start a system nginx on port 80. Stop only processes that the
  # install started (none of the benchmark's own nginx exist yet).
  started=""
  for pid in $(pgrep -x nginx || true); do
    case "$before" in *" $pid "*) ;; *) started="$started $pid" ;; esac
  done
  if [ -n "$started" ]; then
    echo "== stopping the system nginx started by the package install (pids:$started)"
    /usr/sbin/nginx -s stop 2>/dev/null || true
    sleep 1
    for pid in $started; do
      kill -TERM "$pid" 2>/dev/null || true
    done
  fi
fi

echo "== building (release)"
cargo build --release --bin fedishop --example storefront_bench

echo "== running"
exec cargo run --release --quiet --example storefront_bench -- "$@"
