"""The `ansible-test integration` route keeps working: scripts/ansible_test_integration.sh runs one small target
(smhv_ping) in a tree and lab folder of this test's own, its setup_smhv_lab dependency starts the lab, and the script
stops it. The full run over every target is `make integration-ansible-test` (docs/development.md); pytest runs the
same targets through tests/integration/test_targets.py."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab_fixture import lab_command

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ping_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ansible-test-integration")
    env = dict(os.environ, INTEGRATION_ROOT=str(root), VENV=str(Path(sys.executable).parents[1]), ANSIBLE_TEST_COLOR="no")
    run = subprocess.run([str(REPO_ROOT / "scripts" / "ansible_test_integration.sh"), "smhv_ping"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    return root, run


def test_the_target_passes_under_ansible_test(ping_run):
    run = ping_run[1]
    assert run.returncode == 0, f"{run.stdout[-8000:]}\n{run.stderr[-3000:]}"
    assert "Running smhv_ping integration test role" in run.stdout
    recap = re.search(r"testhost\s*: ok=(\d+)\s+changed=\d+\s+unreachable=0\s+failed=0", run.stdout)
    assert recap and int(recap.group(1)) >= 10, run.stdout[-3000:]
    assert "== ansible-test integration: passed" in run.stdout


def test_the_setup_target_started_the_lab_in_its_own_folder(ping_run):
    root, run = ping_run
    started = re.search(r"TASK \[setup_smhv_lab : Start the lab\] \*+\nchanged: \[testhost\]", run.stdout)
    assert started, run.stdout[-8000:]
    assert (root / "lab" / "endpoints.json").is_file()
    assert (root / "ansible_collections" / "netapp_hyperv" / "smhv" / "tests" / "integration" / "integration_config.yml").is_file()


def test_the_lab_is_stopped_afterwards(ping_run):
    root = ping_run[0]
    assert (root / "lab" / "endpoints.json").is_file(), "the lab never ran"
    status = lab_command("status", "--state-dir", str(root / "lab"))
    assert status.returncode == 3, status.stdout + status.stderr
    assert "is not running" in status.stdout
