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

if ! python3 -c 'import rotel' 2>/dev/null; then
    python3 -m pip install --quiet rotel
fi
