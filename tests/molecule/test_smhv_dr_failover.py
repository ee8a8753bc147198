"""Molecule scenario of roles/smhv_dr_failover against the lab (tests/molecule/conftest.py): prepare backs up hv03 with
SnapMirror update and takes site A down, converge fails over to hvdr01, idempotence runs it again, verify checks."""
from __future__ import annotations


def test_smhv_dr_failover_scenario(molecule_scenario):
    output = molecule_scenario("smhv_dr_failover")
    assert "prepare: Executed: Successful" in output
