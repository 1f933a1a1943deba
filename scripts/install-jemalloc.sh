#!/usr/bin/env bash
# Install jemalloc (Debian/Ubuntu's libjemalloc2), the allocator hwlib's trainings preload
# (src/hwlib/allocator.py): the same results, about 8 % sooner on the MNIST sweep here.
# Only when it is missing; with --optional (`make reproduce`, `make bench`) a machine where it
# cannot be installed gets a warning and trains on with the C library's malloc.
#
# Idempotent: with the package installed it does nothing (no apt-get update).
set -euo pipefail

PACKAGE=libjemalloc2
if [ "${1:-}" = "--optional" ]; then
  optional=1
else
  optional=0
fi

if dpkg -s "$PACKAGE" >/dev/null 2>&1 || ldconfig -p 2>/dev/null | grep -q 'libjemalloc\.so\.2 '; then
  echo "install-jemalloc: libjemalloc.so.2 is installed"
  exit 0
fi

echo "install-jemalloc: libjemalloc.so.2 missing, installing Debian's $PACKAGE"
source "$(dirname "$0")/apt-install.sh"
if [ "$optional" = 1 ]; then
  # apt_install exits on failure: try it in a subshell and go on without jemalloc
  if ! (apt_install install-jemalloc "$PACKAGE"); then
    echo "install-jemalloc: warning: training goes on with the C library's malloc (same results, slower)" >&2
  fi
  exit 0
fi
apt_install install-jemalloc "$PACKAGE"
