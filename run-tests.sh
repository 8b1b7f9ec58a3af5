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
