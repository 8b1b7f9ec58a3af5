#!/usr/bin/env bash
# Every test Meridian has, from a fresh clone on a fresh Debian 12 machine with Rust installed.
# Installs what is missing (Python venv tools for the deploy checks are handled by deploy/check.sh).
set -euo pipefail
cd "$(dirname "$0")"

echo "== rustfmt and clippy"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test (unit, integration, doc)"
cargo test --locked --lib --bins --tests -- --test-threads=2

if [ -x deploy/check.sh ]; then
  echo "== deploy checks (Dockerfile, Terraform, checkov, hadolint)"
  deploy/check.sh
fi
