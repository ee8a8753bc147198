"""Catalog records on a MemoryRepository: layout, round trips, listings from file names, VM filter reads."""
from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import backup_file_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, DatasetMember, Journal, JournalStep, Policy, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import MemoryRepository, WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from unit.catalog.factory import SCOPE, T0, make_backup

HOUR = datetime.timedelta(hours=1)


def test_layout_one_file_per_record(catalog, repository):
    catalog.put_policy(Policy("prod", "hourly", "hourly", retention_count=30, schedule={"frequency": "hourly"}))
    catalog.save_backup(make_backup("prod", T0))
    files = sorted(entry.path for entry in repository.list("", recurse=True) if not entry.is_directory)
    assert files == ["smhv/format.json", "smhv/v1/backups/prod/prod_03-14-2026_09.00.00~hourly~application~ok.json",
                     "smhv/v1/datasets/prod.json", "smhv/v1/index/prod.json", "smhv/v1/policies/prod/hourly.json", "smhv/v1/scope.json"]
    for path in files:
        assert json.loads(repository.read([path])[path].text)["schema_version"] == 1


def test_uninitialized_snapinfo_says_to_register_the_scope():
    with pytest.raises(SmhvError) as caught:
        Catalog(MemoryRepository()).list_datasets()
    assert caught.value.code == "SCOPE_NOT_REGISTERED" and "smhv_host" in caught.value.message


def test_initialize_is_idempotent_and_keeps_creation_time(catalog, clock):
    first = catalog.scope()
    clock.sleep(60)
    assert catalog.initialize(dataclasses.replace(SCOPE, report_path="D:\\Reports")).created == first.created
    assert catalog.scope().report_path == "D:\\Reports"


def test_snapinfo_path_too_long_for_max_path_is_refused(repository):
    with pytest.raises(SmhvError) as caught:
        Catalog(repository).initialize(dataclasses.replace(SCOPE, snapinfo_path="C:\\" + "x" * 80))
    assert "Use a SnapInfo path of at most 69 characters" in caught.value.message


def test_dataset_round_trip_and_case_insensitive_names(catalog):
    members = (DatasetMember("id-a", "hvc1", "sql1"), DatasetMember("id-b", "hv03", "web1"))
    catalog.put_dataset(Dataset("Sales", "CRM", members))
    found = catalog.get_dataset("Sales")
    assert found.record.members == members and found.record.member("id-b").scope == "hv03"
    with pytest.raises(SmhvError) as caught:
        catalog.put_dataset(Dataset("SALES"))
    assert caught.value.code == "DATASET_EXISTS"
    assert catalog.list_datasets() == ["Sales", "prod"]


def test_bad_dataset_name_never_reaches_the_repository(catalog, repository):
    writes = repository.calls["write"]
    with pytest.raises(SmhvError) as caught:
        catalog.put_dataset(Dataset("../evil"))
    assert "'.', '/'" in caught.value.message and repository.calls["write"] == writes


def test_policy_checks(catalog):
    with pytest.raises(SmhvError) as caught:
        catalog.put_policy(Policy("nope", "p", "daily", retention_count=3))
    assert caught.value.code == "DATASET_NOT_FOUND"
    with pytest.raises(SmhvError) as caught:
        catalog.put_policy(Policy("prod", "p", "daily", retention_count=3, backup_type="crash", method="vss_provider"))
    assert "crash backups method crash" in caught.value.message
    with pytest.raises(SmhvError) as caught:
        catalog.put_policy(Policy("prod", "p", "daily", retention_count=3, schedule={"frequency": "cron", "cron": "0 0 31 2 *"}))
    assert "never runs" in caught.value.message
    written = catalog.put_policy(Policy("prod", "p", "daily", retention_age_seconds=7 * 86400, schedule={"frequency": "daily", "at": "01:00"}))
    policy = catalog.get_policy("prod", "p").record
    assert policy == written.record and policy.retention().age == datetime.timedelta(days=7)
    assert policy.parsed_schedule().hours == (1,)
    assert [p.name for p in catalog.list_policies("prod")] == ["p"]
    assert catalog.delete_policy("prod", "p") and catalog.list_policies("prod") == []


def test_backup_round_trip_and_duplicates(catalog):
    record = make_backup("prod", T0, vms=("a", "b"))
    catalog.save_backup(record)
    assert catalog.get_backup("prod", record.name) == record
    with pytest.raises(SmhvError) as caught:
        catalog.save_backup(dataclasses.replace(record, status="failed", failed_step="snapshot"))
    assert caught.value.code == "BACKUP_EXISTS"
    with pytest.raises(ValueError):
        catalog.save_backup(dataclasses.replace(record, name="prod_01-01-2020_00.00.00"))


def test_listing_filters_from_file_names_without_reading_records(catalog, repository):
    for hour in range(48):
        catalog.save_backup(make_backup("prod", T0 + hour * HOUR, status="failed" if hour % 10 == 9 else "ok",
                                        backup_type="crash" if hour % 2 else "application", tag="daily" if hour % 24 == 0 else "hourly"))
    catalog.put_dataset(Dataset("test"))
    catalog.save_backup(make_backup("test", T0, tag="daily"))
    reads = repository.calls["read"]
    day2 = catalog.list_backups(dataset="prod", since=T0 + 24 * HOUR, until=T0 + 35 * HOUR)
    assert [s.time for s in day2] == [T0 + h * HOUR for h in range(24, 36)]
    assert [s.name for s in catalog.list_backups(dataset="prod", status="failed")] == [
        "prod_03-14-2026_18.00.00", "prod_03-15-2026_04.00.00", "prod_03-15-2026_14.00.00", "prod_03-16-2026_00.00.00"]
    assert len(catalog.list_backups(dataset="prod", backup_type="crash")) == 24
    assert [s.time for s in catalog.list_backups(retention_tag="daily")] == [T0, T0, T0 + 24 * HOUR]
    assert {s.dataset for s in catalog.list_backups()} == {"prod", "test"}
    assert repository.calls["read"] == reads


def test_strays_in_the_backup_directory_are_ignored(catalog, repository):
    catalog.save_backup(make_backup("prod", T0))
    repository.write("smhv/v1/backups/prod/.prod_03-14-2026_10.00.00~hourly~application~ok.json.0123.tmp", "{")
    repository.write("smhv/v1/backups/prod/notes.txt", "hello")
    repository.write("smhv/v1/backups/prod/other_03-14-2026_10.00.00~hourly~application~ok.json", "{}")
    assert [s.name for s in catalog.list_backups(dataset="prod")] == ["prod_03-14-2026_09.00.00"]


def test_vm_filter_reads_no_record_the_index_covers(catalog, repository):
    catalog.put_dataset(Dataset("other"))
    for hour in range(100):
        vms = ("a", "b") if 40 <= hour < 50 else ("a",)
        catalog.save_backup(make_backup("prod", T0 + hour * HOUR, vms=vms))
        catalog.save_backup(make_backup("other", T0 + hour * HOUR, vms=("c",)))
    reads = []
    original = repository.read
    repository.read = lambda paths: reads.append(list(paths)) or original(paths)
    found = catalog.list_backups(vm_id="id-b")
    assert [s.time for s in found] == [T0 + h * HOUR for h in range(40, 50)]
    record_reads = [path for batch in reads for path in batch if "/backups/" in path]
    assert not record_reads  # the exact index names b's ten backups; nothing of "other" either


def test_vm_filter_still_finds_backups_the_index_missed(catalog, repository):
    catalog.save_backup(make_backup("prod", T0, vms=("a",)))
    # A writer died after the record and before the index update: the record is newer than covered_until.
    late = make_backup("prod", T0 + HOUR, vms=("z",))
    repository.write("smhv/v1/backups/prod/" + backup_file_name(late), encode(late), create_only=True)
    assert [s.name for s in catalog.list_backups(vm_id="id-z")] == [late.name]
    index = catalog.rebuild_vm_index("prod")
    assert set(index.vms) == {"id-a", "id-z"} and index.covered_until == late.time


def test_skipped_vms_are_not_in_a_backup(catalog):
    record = make_backup("prod", T0, vms=("a", "b"))
    skipped = dataclasses.replace(record.vms[1], outcome="skipped", reason="live migration in progress", files=())
    catalog.save_backup(dataclasses.replace(record, vms=(record.vms[0], skipped)))
    assert catalog.list_backups(vm_id="id-b") == []
    assert len(catalog.list_backups(vm_id="id-a")) == 1


def test_delete_backups_and_dataset(catalog):
    catalog.put_policy(Policy("prod", "p", "daily", retention_count=3))
    for hour in range(3):
        catalog.save_backup(make_backup("prod", T0 + hour * HOUR))
    summaries = catalog.list_backups(dataset="prod")
    assert catalog.delete_backups(summaries[:2]) == [s.name for s in summaries[:2]]
    assert catalog.delete_backups(summaries[:2]) == []
    assert catalog.delete_dataset("prod")
    assert catalog.get_dataset("prod") is None and catalog.list_policies("prod") == []
    assert [s.name for s in catalog.list_backups(dataset="prod")] == [summaries[2].name]  # backups still restore


def test_corrupt_record_names_the_file(catalog, repository):
    repository.write("smhv/v1/datasets/broken.json", "{not json")
    with pytest.raises(SmhvError) as caught:
        catalog.get_dataset("broken")
    assert caught.value.code == "CATALOG_CORRUPT" and "smhv/v1/datasets/broken.json" in caught.value.message


def test_journal_steps_survive_and_a_second_owner_conflicts(catalog, clock):
    journal = catalog.create_journal(Journal("failover~x1", "failover", "hvc1", clock()))
    with pytest.raises(WriteConflict):
        catalog.create_journal(Journal("failover~x1", "failover", "hvc1", clock()))
    step_done = dataclasses.replace(journal.record, steps=(JournalStep("break_mirrors", "done", clock(), {"volumes": ["vol_vm1"]}),))
    saved = catalog.put_journal(step_done, journal.sha256)
    assert catalog.get_journal(journal.record.id).record.step("break_mirrors").data == {"volumes": ["vol_vm1"]}
    with pytest.raises(WriteConflict):
        catalog.put_journal(dataclasses.replace(step_done, state="undo_incomplete"), journal.sha256)
    catalog.put_journal(dataclasses.replace(step_done, state="undo_incomplete"), saved.sha256)
    assert [j.record.state for j in catalog.list_journals()] == ["undo_incomplete"] and catalog.list_journals(state="running") == []
    catalog.delete_journal("failover~x1")
    assert catalog.list_journals() == []
