"""Fixtures shared by every test folder."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab_fixture import running_lab  # noqa: E402


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """The default two-site lab, started once per test session (per xdist worker) and stopped after."""
    with running_lab(tmp_path_factory.mktemp("lab") / "state") as handle:
        yield handle
