#!/usr/bin/env bash
# Shared by install-tex.sh and install-browser.sh: `apt_install LABEL PACKAGE...` installs
# Debian packages with apt-get (through `sudo -n` when not root), or stops with a message
# saying what to run.
apt_install() {
  local label=$1
  shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$label: error: no apt-get here; install these Debian packages (or their equivalent) by hand: $*" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      echo "$label: error: installing $* needs root; run" >&2
      echo "  sudo bash scripts/$label.sh" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}
