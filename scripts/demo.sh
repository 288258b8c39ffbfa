#!/usr/bin/env bash
# Runs the main job on a fresh machine: installs espeak-ng (and the other test dependencies)
# where missing, then the example speech service replays 200 requests of real text through
# espeak-ng, prints its summary table, and writes the JSON export and an SVG chart.
# Extra arguments go to the demo, e.g. `scripts/demo.sh --demo 500 --export out/perf.json`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

args=("$@")
((${#args[@]})) || args=(--demo 200 --export target/demo/performance.json)
exec cargo run --release --example speech_server --features http -- "${args[@]}"
