"""tests/data/pscatalog/cmdlets.json is a faithful, complete extract of the shared catalog."""
from __future__ import annotations

import json

import pytest

from unit.agent import pscatalog_subset
from unit.agent import pscheck

needs_full_catalog = pytest.mark.skipif(not pscheck.FULL_CATALOG.is_file(),
                                        reason=f"full catalog not available at {pscheck.FULL_CATALOG} (set SMHV_PSCATALOG)")


@needs_full_catalog
def test_subset_entries_are_verbatim_copies():
    full = json.loads(pscheck.FULL_CATALOG.read_text(encoding="utf-8"))
    subset = pscheck.load_catalog()
    assert subset["common_parameters"] == full["common_parameters"]
    for name, entry in subset["cmdlets"].items():
        assert full["cmdlets"].get(name) == entry, name


@needs_full_catalog
def test_subset_is_exactly_what_the_agent_uses():
    # Every real cmdlet the agent calls is in the subset (else the command check would wrongly call it
    # unknown) and nothing else is (else it would hide a removed use). Fix: run pscatalog_subset.py.
    full = json.loads(pscheck.FULL_CATALOG.read_text(encoding="utf-8"))
    assert pscatalog_subset.build_subset(full)["cmdlets"] == pscheck.load_catalog()["cmdlets"]
