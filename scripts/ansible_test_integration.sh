#!/usr/bin/env bash
# ansible-test integration for netapp_hyperv.smhv: the targets in tests/integration/targets against the lab.
#
#   scripts/ansible_test_integration.sh [TARGET...] [-- ANSIBLE_TEST_ARGS...]
#   make integration-ansible-test [TARGETS="smhv_ping smhv_host"] [ANSIBLE_TEST_ARGS="-vvv"]
#
# The same targets run through pytest too (tests/integration/test_targets.py, `make integration`); this is the
# route collections usually take. ansible-test needs the collection at a physical
# .../ansible_collections/netapp_hyperv/smhv path, so the files git would list are mirrored into
# $INTEGRATION_ROOT/ansible_collections/netapp_hyperv/smhv first (scripts/sync_tree.py, as for sanity, but a tree
# of its own, so a sanity run at the same time is not disturbed).
#
# The lab: every smhv_* target depends on tests/integration/targets/setup_smhv_lab (meta/main.yml), which starts
# the lab on the first target and resets it before each one. Its state folder is $INTEGRATION_ROOT/lab, given to
# the role through tests/integration/integration_config.yml (ansible-test passes no environment variables of ours
# to the playbooks); the pytest route's labs live in pytest's temporary folders and use other free ports, so both
# routes can run at the same time. This script stops the lab when ansible-test is done, whatever the outcome.
#
# ansible-test runs with --local from $VENV (.venv): the modules' Python dependencies (requests, pypsrp, pywinrm)
# and the lab package are there, and nothing has to be downloaded (--venv would build a fresh venv and install
# them). ansible-test strips the environment down to PATH, HOME and a few others, so REQUESTS_CA_BUNDLE and
# CURL_CA_BUNDLE, which on some machines override the lab's ca_path in requests, do not reach the modules.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

VENV=${VENV:-.venv}
INTEGRATION_ROOT=${INTEGRATION_ROOT:-.cache/integration}
abs() { case $1 in /*) echo "$1";; *) echo "$repo/$1";; esac; }
VENV=$(abs "$VENV"); INTEGRATION_ROOT=$(abs "$INTEGRATION_ROOT")

targets=(); extra=()
while [[ $# -gt 0 && "$1" != "--" ]]; do targets+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
extra=("$@")

dest="$INTEGRATION_ROOT/ansible_collections/netapp_hyperv/smhv"
state_dir="$INTEGRATION_ROOT/lab"
started=$SECONDS

"$VENV/bin/python" "$repo/scripts/sync_tree.py" "$repo" "$dest"
# Read by ansible-test (tests/integration/integration_config.yml is its vars file for every target's play).
cat > "$dest/tests/integration/integration_config.yml" <<EOF
---
# Written by scripts/ansible_test_integration.sh: where setup_smhv_lab keeps the lab it starts.
smhv_lab_state_dir: $state_dir
EOF

stop_lab() {
    "$VENV/bin/python" -m smhv_lab.cli down --state-dir "$state_dir" >/dev/null || \
        echo "ansible-test integration: the lab in $state_dir did not stop cleanly (see $state_dir/lab.log)" >&2
}
trap stop_lab EXIT

rc=0
(cd "$dest" && PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-test" integration --local \
    --color "${ANSIBLE_TEST_COLOR:-auto}" "${extra[@]}" "${targets[@]}") || rc=$?
echo "== ansible-test integration: $([[ $rc -eq 0 ]] && echo passed || echo FAILED) in $((SECONDS - started)) s" \
     "(${targets[*]:-all targets})"
exit $rc
