"""Molecule scenario of roles/smhv_install against the lab (tests/molecule/conftest.py)."""
from __future__ import annotations


def test_smhv_install_scenario(molecule_scenario):
    molecule_scenario("smhv_install")
