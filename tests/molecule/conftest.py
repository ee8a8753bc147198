"""Run one role's Molecule scenario (default driver, managed: false) against a running lab.

One test file per role (test_<role>.py), so that pytest-xdist (--dist loadfile) runs the scenarios on different workers,
each with its own lab. Every scenario starts from the lab's topology: hv02's SMHV rule drifted to 809
and lacks 4095, hvdr01 lags a cumulative update and misses Multipath-IO, hv03 has SnapDrive without SMHV.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab_fixture import REPO_ROOT, ansible_env

STEPS = ("syntax", "converge", "idempotence", "verify")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def molecule_scenario(lab, tmp_path):
    """molecule_scenario(role) runs `molecule test` for roles/<role> against the session's lab."""
    return lambda role: _run(role, lab, tmp_path)


def _run(role, lab, tmp_path):
    lab.reset()
    env = ansible_env(tmp_path, SMHV_LAB_INVENTORY=str(lab.inventory), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                      MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"))
    run = subprocess.run([str(Path(sys.executable).parent / "molecule"), "test", "-s", "default"],
                         cwd=REPO_ROOT / "roles" / role, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = _ANSI.sub("", "\n".join(line for line in (run.stdout + run.stderr).splitlines()
                                     if "Found installed collection" not in line))
    assert run.returncode == 0, f"molecule test of {role} failed:\n{output[-12000:]}"
    for step in STEPS:
        assert f"{step}: Executed: Successful" in output, f"{role}: {step} did not run:\n{output[-4000:]}"
    return output
