#!/usr/bin/env bash
# What `make bench` compares against: Debian's prometheus-blackbox-exporter
# and curl. Installed only when missing (needs root for apt-get).
set -euo pipefail
missing=()
command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
