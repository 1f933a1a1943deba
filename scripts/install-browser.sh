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
# Debian names the package chromium; Ubuntu's is a snap shim, so there use chromium-browser
# from a PPA or point HWLIB_CHROMIUM at any Chromium/Chrome binary.
source "$(dirname "$0")/apt-install.sh"
apt_install install-browser chromium
[ -x "$CHROMIUM" ] || { echo "install-browser: error: $CHROMIUM still missing after install" >&2; exit 1; }
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
