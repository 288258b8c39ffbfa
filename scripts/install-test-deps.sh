#!/usr/bin/env bash
# Installs what the integration tests need beyond cargo: the `rotel` OTLP collector, from PyPI.
# The collector tests start its `rotel-agent` binary and read what it printed.
# Idempotent: nothing happens when the pinned version is already installed.
set -euo pipefail

ROTEL_VERSION="0.0.1a15"

installed="$(python3 -m pip show rotel 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" = "$ROTEL_VERSION" ]; then
    echo "rotel $ROTEL_VERSION already installed"
    exit 0
fi

# Debian's Python refuses system-wide installs without this flag; others ignore it.
python3 -m pip install --quiet "rotel==$ROTEL_VERSION" \
    || python3 -m pip install --quiet --break-system-packages "rotel==$ROTEL_VERSION"
python3 -c 'import os, rotel; print("rotel-agent at", os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))'
