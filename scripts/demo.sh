#!/usr/bin/env bash
# Interim `make demo` (until lab/smhv_lab/demo.py exists): start the simulated site on free ports
# under a temporary state directory, show its endpoints and status, and always stop it again.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV="$repo/$VENV";; esac
lab="$VENV/bin/smhv-lab"
if [[ ! -x "$lab" ]]; then
    echo "demo: $lab not found; is the lab package (lab/) installed? run 'make venv'" >&2
    exit 1
fi

state_dir=$(mktemp -d "${TMPDIR:-/tmp}/smhv-demo.XXXXXX")
cleanup() {
    "$lab" down --state-dir "$state_dir" || true
    rm -rf "$state_dir"
}
trap cleanup EXIT

echo "== smhv-lab up --state-dir $state_dir"
"$lab" up --state-dir "$state_dir"
echo
echo "== smhv-lab status"
"$lab" status --state-dir "$state_dir"
echo
echo "== smhv-lab down"
