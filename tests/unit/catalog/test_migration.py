"""Schema versions: a fabricated v0 backup record migrates to v1; newer or unknown versions are refused."""
from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import SCHEMA_VERSION, BackupRecord, decode, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from unit.catalog.factory import T0

V0_BACKUP = {
    "kind": "backup", "name": "prod_03-14-2026_09.00.00", "dataset": "prod", "policy": None, "timestamp": "03-14-2026_09.00.00",
    "backup_type": "app", "scope": "hvc1", "status": "ok",
    "vms": [{"vm_id": "id-a", "name": "a", "host": "hv01", "outcome": "online",
             "snapshots": ["prod_03-14-2026_09.00.00", "prod_03-14-2026_09.00.00_backup"],
             "files": [{"path": "C:\\ClusterStorage\\Volume1\\a\\a.vhdx", "kind": "vhd", "lun_serial": "80AbC1234567", "cluster": "c1",
                        "svm": "svm1", "volume": "vol_vm1"}]}],
}


def test_v0_backup_migrates_to_the_current_shape(catalog, repository):
    record = decode(json.dumps(V0_BACKUP), "old.json", "backup")
    assert isinstance(record, BackupRecord)
    assert record.time == T0 and record.backup_type == "application" and record.method == "checkpoint"
    assert record.retention_tag == "unlimited"
    assert record.vms[0].files[0].snapshots == ("prod_03-14-2026_09.00.00", "prod_03-14-2026_09.00.00_backup")
    assert json.loads(encode(record))["schema_version"] == SCHEMA_VERSION == 1
    # Through the catalog: an old record in the repository reads as current.
    repository.write("smhv/v1/backups/prod/prod_03-14-2026_09.00.00~unlimited~application~ok.json", json.dumps(V0_BACKUP))
    assert catalog.get_backup("prod", "prod_03-14-2026_09.00.00") == record


def test_newer_schema_is_refused_with_what_to_do():
    with pytest.raises(SmhvError) as caught:
        decode(json.dumps(dict(V0_BACKUP, schema_version=2)), "new.json", "backup")
    assert caught.value.code == "CATALOG_VERSION_UNSUPPORTED" and "Upgrade netapp_hyperv.smhv" in caught.value.message


def test_old_record_without_a_migration_is_refused():
    with pytest.raises(SmhvError) as caught:
        decode(json.dumps({"kind": "dataset", "name": "prod"}), "datasets/prod.json", "dataset")
    assert "dataset record of schema version 0, which this collection cannot migrate" in caught.value.message


def test_round_trip_is_byte_stable():
    record = decode(json.dumps(V0_BACKUP), "old.json", "backup")
    assert encode(decode(encode(record), "x", "backup")) == encode(record)
    assert decode(encode(record), "x", "backup").time == datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc)
