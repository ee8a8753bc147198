#!/usr/bin/env bash
# Run pytest over the given test folders that contain tests, from $VENV.
#
#   scripts/pytest.sh DIR... -- PYTEST_ARGS...
#
# Folders without test files are skipped with a note; when nothing at all is collected (pytest exit
# code 5) this says so and succeeds. Otherwise pytest's exit code is returned unchanged and pytest's
# summary line is the last thing printed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV="$repo/$VENV";; esac

dirs=(); args=()
while [[ $# -gt 0 && "$1" != "--" ]]; do dirs+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
args=("$@")

selected=(); empty=()
for d in "${dirs[@]}"; do
    if [[ -d "$d" ]] && find "$d" -name output -prune -o -type f \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit | grep -q .; then
        selected+=("$d")
    else
        empty+=("$d")
    fi
done

if [[ ${#selected[@]} -eq 0 ]]; then
    echo "pytest: no tests yet in ${empty[*]} (nothing to run)"
    exit 0
fi
[[ ${#empty[@]} -eq 0 ]] || echo "pytest: no tests yet in ${empty[*]}"

# `import ansible_collections.netapp_hyperv.smhv...` resolves through the checkout's symlink
# (.cache/collections/ansible_collections/netapp_hyperv/smhv -> repo root); ansible_collections is a
# namespace package, so the collections bundled with `ansible` in site-packages stay importable.
export PYTHONPATH="$repo/.cache/collections${PYTHONPATH:+:$PYTHONPATH}"

rc=0
"$VENV/bin/python" -m pytest "${args[@]}" "${selected[@]}" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "pytest: no tests collected in ${selected[*]} (exit code 5 treated as success)"
    exit 0
fi
exit $rc
