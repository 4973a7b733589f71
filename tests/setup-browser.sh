#!/usr/bin/env bash
# The real browser the console's tests drive: Debian's Chromium and its
# WebDriver (chromedriver), installed with apt-get when missing.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q chromium chromium-driver
