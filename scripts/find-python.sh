#!/bin/sh
# Print the path of a working Python interpreter for the minor version given as $1 (e.g. 3.11).
# Order: pyenv's installed versions (newest patch first), then python<ver> on PATH, then (only with
# --fallback) python3 when it is at least that version. Exit 1 with nothing printed if none works.
set -eu
want=$1
fallback=${2:-}
root=${PYENV_ROOT:-$HOME/.pyenv}

works() {
    [ -x "$1" ] || return 1
    "$1" -c "import sys, venv; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1
}

if [ -d "$root/versions" ]; then
    # newest patch release first (3.11.10 before 3.11.9)
    # shellcheck disable=SC2012  # version names are plain
    for v in $(cd "$root/versions" && ls -d "$want".* 2>/dev/null | sort -t. -k3,3nr); do
        if works "$root/versions/$v/bin/python$want"; then echo "$root/versions/$v/bin/python$want"; exit 0; fi
    done
fi

if p=$(command -v "python$want" 2>/dev/null) && works "$p"; then echo "$p"; exit 0; fi

if [ "$fallback" = "--fallback" ] && p=$(command -v python3 2>/dev/null); then
    if "$p" -c "import sys; sys.exit(0 if sys.version_info[:2] >= tuple(map(int, '$want'.split('.'))) else 1)" 2>/dev/null; then
        echo "$p"; exit 0
    fi
fi
exit 1
