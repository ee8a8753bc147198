"""An unknown dataset's error lists the datasets the catalog has, so a misspelt name shows the one meant (issue 18)."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, Policy
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


def test_policy_of_an_unknown_dataset_names_the_datasets_there(catalog):
    catalog.put_dataset(Dataset("Sales"))
    with pytest.raises(SmhvError) as caught:
        catalog.put_policy(Policy("prd", "daily", "daily", retention_count=3))
    assert caught.value.code == "DATASET_NOT_FOUND"
    assert caught.value.message.endswith("Datasets there: Sales, prod.")
    assert caught.value.details == {"dataset": "prd", "datasets": ["Sales", "prod"]}


def test_update_of_an_unknown_dataset_names_the_datasets_there(catalog):
    with pytest.raises(SmhvError) as caught:
        catalog.update_dataset("prd", lambda dataset: dataset)
    assert "Dataset prd does not exist" in caught.value.message and caught.value.message.endswith("Datasets there: prod.")
    assert caught.value.details["datasets"] == ["prod"]
