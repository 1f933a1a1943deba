#!/usr/bin/env bash
# Install the TeX toolchain that `make pdf` needs (Debian/Ubuntu), only if something is missing.
#
# The book's PDF is built by Sphinx's plain LaTeX writer with XeLaTeX (book/_config.yml:
# `latex_engine: xelatex`, `use_jupyterbook_latex: false`): XeLaTeX + the FreeFont OTF fonts
# set any Unicode the chapters print (×, Δ, ’ ...), and the plain Sphinx class avoids
# Jupyter Book's own one, which needs bbm.sty from the ~500 MB texlive-fonts-extra.
#
# Idempotent: when every package is installed (dpkg -s) it only checks the commands
# (no apt-get update). Otherwise it needs root (CI runs it with sudo) and says so clearly.
set -euo pipefail

PACKAGES=(
  texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex
  latexmk fonts-freefont-otf tex-gyre lmodern xindy poppler-utils
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

check_commands() {
  local cmd
  for cmd in xelatex latexmk xindy pdftoppm; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "install-tex: error: $cmd not on PATH" >&2; return 1; }
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  check_commands
  echo "install-tex: TeX toolchain present ($(command -v xelatex), $(command -v latexmk))"
  exit 0
fi

echo "install-tex: missing: ${missing[*]}"
source "$(dirname "$0")/apt-install.sh"
apt_install install-tex "${missing[@]}"
check_commands
echo "install-tex: installed ${missing[*]}"
