#!/usr/bin/env bash
# Install the browser that tests/test_browser.py drives (Debian's chromium at /usr/bin/chromium),
# only if it is missing. Playwright's own browser download (`playwright install`) needs a host
# that CI cannot reach, so the test uses the distribution's chromium through Playwright's
# Python API (executable_path=/usr/bin/chromium).
#
# Idempotent: with /usr/bin/chromium present it does nothing (no apt-get update).
set -euo pipefail

CHROMIUM=${HWLIB_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
  echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) at $CHROMIUM"
  exit 0
fi

echo "install-browser: $CHROMIUM missing, installing Debian's chromium"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: error: no apt-get here; install chromium by hand (or set HWLIB_CHROMIUM)" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  else
    echo "install-browser: error: installing chromium needs root; run" >&2
    echo "  sudo bash scripts/install-browser.sh" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
# Debian names the package chromium; Ubuntu's is a snap shim, so there use chromium-browser
# from a PPA or point HWLIB_CHROMIUM at any Chromium/Chrome binary.
"${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium
[ -x "$CHROMIUM" ] || { echo "install-browser: error: $CHROMIUM still missing after install" >&2; exit 1; }
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
