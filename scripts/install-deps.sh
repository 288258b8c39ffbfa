#!/usr/bin/env bash
# Installs what the examples and tests use, where it is missing: espeak-ng (the speech engine of
# the example service), Prometheus and promtool (the scrape backend), and the OpenTelemetry
# collector rotel from PyPI. Idempotent; needs root (or sudo) for the Debian packages.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# The collector, pinned: the tests read its debug output.
ROTEL_VERSION="0.0.1a15"
installed="$(python3 -m pip show rotel 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [[ "$installed" != "$ROTEL_VERSION" ]]; then
    # Debian's Python refuses system-wide installs without the second flag; others ignore it.
    python3 -m pip install --quiet "rotel==$ROTEL_VERSION" \
        || python3 -m pip install --quiet --break-system-packages "rotel==$ROTEL_VERSION"
fi
