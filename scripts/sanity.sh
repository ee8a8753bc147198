#!/usr/bin/env bash
# ansible-test sanity for netapp_hyperv.smhv, then antsibull-changelog lint.
#
#   scripts/sanity.sh            (the Makefile's `sanity` target; run from the repo root)
#
# 1. ansible-core 2.19 on Python 3.11, from $VENV (.venv).
# 2. ansible-core 2.21 on Python 3.12, from $VENV_CORE_NEXT (.venv-2.21), when Python 3.12 is
#    available (pyenv or PATH); otherwise a "skipped:" line says why.
# ansible-test needs the collection at a physical .../ansible_collections/netapp_hyperv/smhv path,
# so the files git would list are mirrored into $SANITY_ROOT first (scripts/sync_tree.py).
# All stages run even when one fails; the exit status is non-zero if any failed.
# Extra ansible-test arguments: SANITY_ARGS="--test pylint" make sanity.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

VENV=${VENV:-.venv}
VENV_CORE_NEXT=${VENV_CORE_NEXT:-.venv-2.21}
CORE_NEXT_SPEC=${CORE_NEXT_SPEC:-ansible-core>=2.21.0,<2.22}
CORE_NEXT_PYTHON_VERSION=${CORE_NEXT_PYTHON_VERSION:-3.12}
SANITY_ROOT=${SANITY_ROOT:-.cache/sanity}
SANITY_ARGS=${SANITY_ARGS:-}
SANITY_CORE_NEXT=${SANITY_CORE_NEXT:-auto}   # auto | no

dest="$repo/$SANITY_ROOT/ansible_collections/netapp_hyperv/smhv"
abs() { case $1 in /*) echo "$1";; *) echo "$repo/$1";; esac; }

run_sanity() {   # run_sanity VENV PYTHON_VERSION
    local venv python_version core
    venv=$(abs "$1"); python_version=$2
    core=$("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')
    echo "== ansible-test sanity: ansible-core $core, Python $python_version ($1)"
    "$venv/bin/python" "$repo/scripts/ansible_test_getpip.py" --python "$python_version"
    # pslint needs pwsh; ansible-test skips it by itself when pwsh is missing.
    # PATH: ansible-test looks up python$python_version there; the venv's own comes first.
    local extra=()
    read -r -a extra <<< "$SANITY_ARGS"
    (cd "$dest" && PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --venv \
        --python "$python_version" --color "${ANSIBLE_TEST_COLOR:-auto}" "${extra[@]}")
}

failed=()
"$(abs "$VENV")/bin/python" scripts/sync_tree.py "$repo" "$dest"

py_version=$("$(abs "$VENV")/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
run_sanity "$VENV" "$py_version" || failed+=("ansible-test sanity (ansible-core 2.19, Python $py_version)")

if [[ "$SANITY_CORE_NEXT" == no ]]; then
    echo "== skipped: ansible-core 2.21 sanity (SANITY_CORE_NEXT=no)"
elif py_next=$("$repo/scripts/find-python.sh" "$CORE_NEXT_PYTHON_VERSION"); then
    stamp="$VENV_CORE_NEXT/.smhv-stamp"
    want="$CORE_NEXT_SPEC $py_next"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        "$repo/scripts/venv.sh" "$VENV_CORE_NEXT" "$py_next" "$CORE_NEXT_SPEC"
        echo "$want" > "$stamp"
    fi
    run_sanity "$VENV_CORE_NEXT" "$CORE_NEXT_PYTHON_VERSION" || failed+=("ansible-test sanity (ansible-core 2.21, Python $CORE_NEXT_PYTHON_VERSION)")
else
    echo "== skipped: ansible-core 2.21 sanity: no Python $CORE_NEXT_PYTHON_VERSION (pyenv versions: $(cd "${PYENV_ROOT:-$HOME/.pyenv}/versions" 2>/dev/null && echo * || echo none)); install one with 'pyenv install $CORE_NEXT_PYTHON_VERSION'"
fi

echo "== antsibull-changelog lint"
"$(abs "$VENV")/bin/antsibull-changelog" lint || failed+=("antsibull-changelog lint")

if [[ ${#failed[@]} -gt 0 ]]; then
    printf 'sanity: FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "sanity: passed"
