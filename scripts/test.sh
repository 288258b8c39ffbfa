#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (the collector
# rotel, Prometheus, espeak-ng), checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

cargo fmt --all -- --check
# The library alone, without the dev-dependencies' features, for each feature set a user picks.
cargo check --lib --no-default-features
cargo check --lib
cargo check --lib --all-features
cargo clippy --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features
cargo test --all-features --no-fail-fast
