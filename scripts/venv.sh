#!/usr/bin/env bash
# Create (or repair) a virtualenv and install the project's requirements into it.
#
#   scripts/venv.sh VENV PYTHON [pip install arguments...]
#
# Called by the Makefile only when the venv's stamp file is older than the requirement files, so a
# re-run of `make` with nothing changed does not get here at all. (Debian packages: the Makefile's
# APT_PACKAGES and scripts/apt-install.sh.)
set -euo pipefail
exec 1>&2   # progress goes to stderr, so `eval "$(make -s env)"` only sees the exports

venv=$1; python=$2; shift 2

# A venv whose interpreter is gone (pyenv upgrade, copied checkout) is rebuilt from scratch.
if [[ -e "$venv" ]] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "venv: $venv is broken (no working $venv/bin/python); recreating it"
    rm -rf "$venv"
fi

if [[ ! -e "$venv/bin/python" ]]; then
    echo "venv: creating $venv with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi

if [[ $# -gt 0 ]]; then
    echo "venv: pip install $* (into $venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
fi
echo "venv: $venv ready in $SECONDS s"
