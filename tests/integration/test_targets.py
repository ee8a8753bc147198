"""Run every integration target (tests/integration/targets/<name>, ansible-test's layout) against
the lab, as a role in a play over the lab's inventory; each target's block sets module_defaults from the
inventory's variables, the way a user's playbook does. The same targets run under `ansible-test integration`
(scripts/ansible_test_integration.sh, tests/integration/test_ansible_test.py), where their setup_smhv_lab
dependency starts the lab; here the inventory already has the lab, so that role does nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab_fixture import ansible_env

TARGETS_DIR = Path(__file__).parent / "targets"
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - {target}
"""


def _targets() -> list[str]:
    names = []
    for target in sorted(TARGETS_DIR.iterdir()) if TARGETS_DIR.exists() else []:
        aliases = (target / "aliases").read_text().split() if (target / "aliases").exists() else []
        # setup_* targets are what others depend on, not tests (ansible-test hides them too)
        if (target / "tasks" / "main.yml").exists() and "disabled" not in aliases and "hidden" not in aliases:
            names.append(target.name)
    return names


@pytest.mark.parametrize("target", _targets())
def test_target(target, lab, tmp_path):
    lab.reset()
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY.format(target=target))
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(playbook)],
        env=ansible_env(tmp_path, ANSIBLE_ROLES_PATH=str(TARGETS_DIR)), capture_output=True, text=True, timeout=600,
        check=False)
    assert run.returncode == 0, f"target {target} failed:\n{run.stdout[-8000:]}\n{run.stderr[-3000:]}"
