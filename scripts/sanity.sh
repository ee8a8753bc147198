#!/usr/bin/env bash
# ansible-test sanity for netapp_hyperv.smhv, then antsibull-changelog lint.
#
#   scripts/sanity.sh            (the Makefile's `sanity` target; run from the repo root)
#
# 1. ansible-core 2.19 on Python 3.11, from $VENV (.venv).
# 2. ansible-core 2.21 on Python 3.12, from $VENV_CORE_NEXT (.venv-2.21, created here), when
#    Python 3.12 is available (pyenv or PATH); otherwise a "skipped:" line says why.
# ansible-test needs the collection at a physical .../ansible_collections/netapp_hyperv/smhv path,
# so the files git would list are mirrored into $SANITY_ROOT/<core>/ first (scripts/sync_tree.py).
# With two or more CPUs both cores run at the same time (SANITY_PARALLEL=no to serialise); the
# second one's output is shown when it is done. All stages run even when one fails; the exit status
# is non-zero if any failed.
# Extra ansible-test arguments: SANITY_ARGS="--test pylint" make sanity.
# ansible-test keeps its per-test venvs and pip bootstrap in ~/.ansible/test; two checkouts sharing
# that directory remove each other's half-built venvs. So ansible-test runs with HOME=$SANITY_HOME,
# one per checkout (.cache/sanity/home), whose .cache/pip links the user's pip cache (a new checkout
# still builds its venvs, but from cached wheels).
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
SANITY_PARALLEL=${SANITY_PARALLEL:-auto}     # auto | no
SANITY_HOME=${SANITY_HOME:-$SANITY_ROOT/home}

abs() { case $1 in /*) echo "$1";; *) echo "$repo/$1";; esac; }
VENV=$(abs "$VENV"); VENV_CORE_NEXT=$(abs "$VENV_CORE_NEXT"); SANITY_HOME=$(abs "$SANITY_HOME")

# ansible-test's venvs live at ~/.ansible/test/venv/sanity.<test>/<python>/<hash>, and their scripts'
# shebangs must stay within Linux's 127 characters: a checkout at a long path gets a short home in /tmp.
venv_python="$SANITY_HOME/.ansible/test/venv/sanity.validate-modules/3.12/12345678/bin/python"
if [[ ${#venv_python} -gt 127 ]]; then
    SANITY_HOME="${TMPDIR:-/tmp}/smhv-sanity-$(printf '%s' "$repo" | cksum | cut -d' ' -f1)"
fi
real_home=$HOME
mkdir -p "$SANITY_HOME/.cache"
if [[ -d "$real_home/.cache/pip" && ! -e "$SANITY_HOME/.cache/pip" ]]; then
    ln -s "$real_home/.cache/pip" "$SANITY_HOME/.cache/pip"
fi

run_sanity() {   # run_sanity VENV PYTHON_VERSION LABEL
    local venv=$1 python_version=$2 label=$3 core dest started=$SECONDS rc=0 extra=()
    core=$("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')
    dest="$repo/$SANITY_ROOT/$label/ansible_collections/netapp_hyperv/smhv"
    echo "== ansible-test sanity: ansible-core $core, Python $python_version (${venv#"$repo"/})"
    "$VENV/bin/python" "$repo/scripts/sync_tree.py" "$repo" "$dest"
    HOME="$SANITY_HOME" "$venv/bin/python" "$repo/scripts/ansible_test_getpip.py" --python "$python_version"
    read -r -a extra <<< "$SANITY_ARGS"
    # --venv: ansible-test makes one venv per test with its pinned linters (cached in $SANITY_HOME/.ansible/test).
    # pslint needs pwsh and shellcheck needs shellcheck; ansible-test skips them when missing.
    # PATH: ansible-test looks up python$python_version there; the venv's own comes first.
    (cd "$dest" && HOME="$SANITY_HOME" PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --venv \
        --python "$python_version" --color "${ANSIBLE_TEST_COLOR:-auto}" "${extra[@]}") || rc=$?
    echo "== ansible-test sanity (ansible-core $core): $([[ $rc -eq 0 ]] && echo passed || echo FAILED) in $((SECONDS - started)) s"
    return $rc
}

core_next() {    # create/refresh the 2.21 venv, then run its sanity
    local stamp="$VENV_CORE_NEXT/.smhv-stamp" want="$CORE_NEXT_SPEC $py_next"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! "$VENV_CORE_NEXT/bin/python" -c '' 2>/dev/null; then
        "$repo/scripts/venv.sh" "$VENV_CORE_NEXT" "$py_next" "$CORE_NEXT_SPEC" || return 1
        echo "$want" > "$stamp"
    fi
    run_sanity "$VENV_CORE_NEXT" "$CORE_NEXT_PYTHON_VERSION" core-next
}

failed=()
py_version=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
next_label="ansible-test sanity (ansible-core 2.21, Python $CORE_NEXT_PYTHON_VERSION)"
next_log="$repo/$SANITY_ROOT/core-next.log"
next_pid=""
# stop the background run too when this script ends early (error, Ctrl-C)
trap '[[ -z "$next_pid" ]] || kill "$next_pid" 2>/dev/null || true' EXIT

py_next=""
if [[ "$SANITY_CORE_NEXT" == no ]]; then
    echo "== skipped: ansible-core 2.21 sanity (SANITY_CORE_NEXT=no)"
elif ! py_next=$("$repo/scripts/find-python.sh" "$CORE_NEXT_PYTHON_VERSION"); then
    py_next=""
    echo "== skipped: ansible-core 2.21 sanity: no Python $CORE_NEXT_PYTHON_VERSION (pyenv versions: $(cd "${PYENV_ROOT:-$HOME/.pyenv}/versions" 2>/dev/null && echo * || echo none)); install one with 'pyenv install $CORE_NEXT_PYTHON_VERSION'"
fi

cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [[ -n "$py_next" && "$SANITY_PARALLEL" != no && "$cpus" -ge 2 ]]; then
    mkdir -p "$(dirname "$next_log")"
    echo "== ansible-core 2.21 sanity runs alongside (output: ${next_log#"$repo"/}, shown when done)"
    ANSIBLE_TEST_COLOR=${ANSIBLE_TEST_COLOR:-no} core_next > "$next_log" 2>&1 &
    next_pid=$!
fi

run_sanity "$VENV" "$py_version" core || failed+=("ansible-test sanity (ansible-core 2.19, Python $py_version)")

if [[ -n "$next_pid" ]]; then
    rc=0; wait "$next_pid" || rc=$?
    next_pid=""
    cat "$next_log"
    [[ $rc -eq 0 ]] || failed+=("$next_label")
elif [[ -n "$py_next" ]]; then
    core_next || failed+=("$next_label")
fi

echo "== ruff: the lab package and benchmarks (not collection content, so not ansible-test's)"
"$VENV/bin/ruff" check --isolated --select F,E7,E9 --target-version py311 lab benchmarks || failed+=("ruff (lab, benchmarks)")

echo "== antsibull-changelog lint"
"$VENV/bin/antsibull-changelog" lint || failed+=("antsibull-changelog lint")

if [[ ${#failed[@]} -gt 0 ]]; then
    printf 'sanity: FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "sanity: passed"
