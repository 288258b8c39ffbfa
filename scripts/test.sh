#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (the collector
# rotel, Prometheus, espeak-ng), checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

cargo fmt --all -- --check
cargo clippy --all-targets --all-features -- -D warnings
cargo test --all-features --no-fail-fast
