#!/usr/bin/env bash
# Every test Meridian has, from a fresh clone on a fresh Debian 12 machine with Rust installed.
# Installs what is missing (Python venv tools for the deploy checks are handled by deploy/check.sh).
set -euo pipefail
cd "$(dirname "$0")"

echo "== rustfmt and clippy"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

# == data tier (issue 16): tests/data_tier.rs starts real PostgreSQL servers (initdb, streaming
# replicas) from the machine's binaries; install Debian's server package when they are missing.
# It runs before the test step because that step runs the data-tier tests too.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "== installing PostgreSQL (Debian package postgresql) for the data-tier tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

echo "== cargo test (unit, integration, doc)"
cargo test --locked --lib --bins --tests -- --test-threads=2

if [ -x deploy/check.sh ]; then
  echo "== deploy checks (Dockerfile, Terraform, checkov, hadolint)"
  deploy/check.sh
fi

echo "== DR drill (issue 17): writer-db-kill on the local three-region lab"
# drill/lab.sh installs Debian's patroni and etcd-server when missing (needs root). Fails when
# writes or reads do not recover within the platform's objective (60 s) or an acknowledged write
# is lost beyond the RPO guard's budget (5 s). The tighter aim (write RTO within Patroni's ttl
# + 1 s) is measured and reported in docs/dr-results.md, not gated: on a shared 2-core runner it
# moves by about a second. About 1.5 minutes; the report lands in target/drill/.
DRILL_DURATION=30s FAULT_AT=8s HEAL_AT=22s DRILL_RTO=60s timeout 300 drill/run.sh writer-db-kill
