#!/usr/bin/env bash
# Creates .venv (and .venv-checkov) with the pinned test tools; does nothing
# when they are current.
set -euo pipefail
cd "$(dirname "$0")/.."

# venv DIR REQUIREMENTS: (re)creates DIR when REQUIREMENTS changed.
venv() {
    local dir=$1 req=$2
    local stamp=$dir/.requirements.sha256
    local want
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
}

venv .venv tests/requirements.txt
venv .venv-checkov tests/requirements-checkov.txt
