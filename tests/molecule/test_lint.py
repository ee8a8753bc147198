"""ansible-lint with the production profile over the fleet roles and playbooks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab_fixture import REPO_ROOT, ansible_env

PATHS = ["roles/smhv_install", "roles/smhv_ports", "roles/smhv_hotfix", "playbooks/fleet_install.yml",
         "playbooks/hotfix_compliance.yml"]


def test_ansible_lint_production_profile(tmp_path):
    env = ansible_env(tmp_path, ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-lint"), "--profile", "production", "--offline",
                          "--nocolor", *PATHS], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, f"ansible-lint:\n{run.stdout[-8000:]}\n{run.stderr[-4000:]}"
