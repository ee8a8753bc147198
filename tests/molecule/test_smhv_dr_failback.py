"""Molecule scenario of roles/smhv_dr_failback against the lab (tests/molecule/conftest.py): prepare backs up hv03 with
SnapMirror update, loses site A, fails over to hvdr01 with the smhv_dr_failover role, writes at site B and brings site A
back; converge fails back and reprotects, idempotence runs it again (nothing to do), verify checks both sites."""
from __future__ import annotations


def test_smhv_dr_failback_scenario(molecule_scenario):
    output = molecule_scenario("smhv_dr_failback")
    assert "prepare: Executed: Successful" in output
    assert "Nothing to do: hv03 runs its VMs from its own volumes" in output  # the idempotence run
