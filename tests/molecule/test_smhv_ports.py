"""Molecule scenario of roles/smhv_ports against the lab (tests/molecule/conftest.py)."""
from __future__ import annotations


def test_smhv_ports_scenario(molecule_scenario):
    molecule_scenario("smhv_ports")
