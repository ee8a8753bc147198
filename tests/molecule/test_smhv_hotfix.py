"""Molecule scenario of roles/smhv_hotfix against the lab (tests/molecule/conftest.py)."""
from __future__ import annotations


def test_smhv_hotfix_scenario(molecule_scenario):
    molecule_scenario("smhv_hotfix")
