"""Fixtures: a catalog over MemoryRepository, initialized with one dataset, on a clock the test moves."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import MemoryRepository
from unit.catalog.factory import SCOPE, Clock


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def repository():
    return MemoryRepository()


@pytest.fixture
def catalog(repository, clock):
    catalog = Catalog(repository, clock=clock, sleep=clock.sleep)
    catalog.initialize(SCOPE)
    catalog.put_dataset(Dataset("prod"))
    return catalog
