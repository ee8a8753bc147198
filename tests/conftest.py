"""Fixtures shared by every test folder (pytest.ini puts tests/ on sys.path for lab_fixture)."""
from __future__ import annotations

import pytest

from lab_fixture import running_lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """The default two-site lab, started once per test session (per xdist worker) and stopped after."""
    with running_lab(tmp_path_factory.mktemp("lab") / "state") as handle:
        yield handle
