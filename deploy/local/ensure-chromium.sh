#!/usr/bin/env bash
# Makes sure Debian's headless Chromium is installed for the browser tests (tests/browser/).
# Playwright drives this system browser (executable_path=/usr/bin/chromium); we never run
# `playwright install`, which would download a browser build of its own.
set -euo pipefail

CHROMIUM=${GERBANG_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available; install Chromium" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "ensure-chromium: installing Debian's chromium (once) …"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji >/dev/null
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: installed, but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) ready"
