"""Fixtures of the e2e tests that run on the lab's DR cluster topology."""
from __future__ import annotations

import pytest

from lab_fixture import running_lab
from smhv_lab.topology import DEFAULT_TOPOLOGY


@pytest.fixture(scope="module")
def drlab(tmp_path_factory):
    """A lab of topologies/dr_cluster.yml (hvdrclus01: hvdr02 owning it and hvdr03, at site B) for one test module."""
    with running_lab(tmp_path_factory.mktemp("drlab") / "state", DEFAULT_TOPOLOGY.parent / "dr_cluster.yml") as handle:
        yield handle
