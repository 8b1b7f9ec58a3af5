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

echo "== observability (issue 20): the status page's charts in headless Chromium"
if ! command -v chromium >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || echo "chromium could not be installed from Debian: the browser test reports that it skipped"
fi
if command -v chromium >/dev/null 2>&1; then
  MERIDIAN_REQUIRE_CHROMIUM=1 cargo test --locked --test status_page
else
  cargo test --locked --test status_page
fi
