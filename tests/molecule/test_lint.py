"""ansible-lint with the production profile from the repository root, as users and the project run it: .ansible-lint
sets the profile and the paths left out (changelog fragments, generated trees), so the playbooks, the roles, their
Molecule scenarios, the integration targets and the lab's YAML are all linted (the fleet roles and playbooks among them)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab_fixture import REPO_ROOT, ansible_env

FLEET_PATHS = ["roles/smhv_install", "roles/smhv_ports", "roles/smhv_hotfix", "playbooks/fleet_install.yml",
               "playbooks/hotfix_compliance.yml"]


def test_ansible_lint_production_profile(tmp_path):
    env = ansible_env(tmp_path, ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-lint"), "--profile", "production", "--offline", "--nocolor", "-v"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, f"ansible-lint:\n{run.stdout[-8000:]}\n{run.stderr[-4000:]}"
    linted = run.stdout + run.stderr
    assert all(path in linted for path in FLEET_PATHS), f"ansible-lint did not lint all of {FLEET_PATHS}:\n{linted[-8000:]}"
