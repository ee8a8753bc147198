"""The exact VM index: a VM listing equals reading every record, and reads none the index covers.

Randomized histories (fixed seeds) of VMs joining, leaving and coming back, skipped outcomes, failed attempts, backups
written out of order and rewritten under the same name, retention deletions, a writer that died before indexing, an
index written by a collection from before `exact`, and rebuilds; after each step every VM's listing is compared with
the brute-force answer: every record read and filtered with BackupRecord.includes().
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import random

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import backup_file_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, VmIndex, decode, encode
from unit.catalog.factory import T0, make_backup, run_together

HOUR = datetime.timedelta(hours=1)
VMS = ("a", "b", "c", "d", "e", "f")
INDEX = "smhv/v1/index/%s.json"


def brute_force(catalog, vm_id, **filters):
    summaries = catalog.list_backups(**filters)
    records = {(record.dataset, record.name): record for record in catalog.get_backups(summaries)}
    return [summary for summary in summaries if records[(summary.dataset, summary.name)].includes("id-" + vm_id)]


def check_every_vm(catalog, step):
    for vm in VMS + ("never",):
        assert catalog.list_backups(vm_id="id-" + vm) == brute_force(catalog, vm), (step, vm)
    for vm in VMS[:2]:
        assert catalog.list_backups(dataset="prod", status="ok", vm_id="id-" + vm) == brute_force(catalog, vm, dataset="prod", status="ok")


def index_of(repository, dataset):
    stored = repository.read([INDEX % dataset])[INDEX % dataset]
    return None if stored is None else decode(stored.text, "index", "vm_index")


def random_backup(rng, dataset, when):
    present = [vm for vm in VMS if rng.random() < 0.6]
    record = make_backup(dataset, when, vms=tuple(present), status="failed" if rng.random() < 0.15 else "ok")
    # Some VMs are skipped (live migration, saved state refused): in the record, not in the backup.
    vms = tuple(dataclasses.replace(vm, outcome="skipped", reason="migrating", files=()) if rng.random() < 0.15 else vm
                for vm in record.vms)
    return dataclasses.replace(record, vms=vms)


def save(catalog, rng, record):
    """save_backup() as smhv_backup calls it (the index read, then the listing passed in), or on its own."""
    if rng.random() < 0.5:
        catalog.save_backup(record)
        return
    index = catalog.read_for_backup(record.dataset, "hvc1")[2]
    catalog.save_backup(record, existing=catalog.list_backups(dataset=record.dataset), index=index)


def old_collection_save(catalog, repository, record):
    """What a collection from before `exact` does: write the record, then the index as spans only (dropping what it
    does not know, `exact` and `absent`, as its from_dict does)."""
    repository.write("smhv/v1/backups/%s/%s" % (record.dataset, backup_file_name(record)), encode(record), create_only=True)
    current = repository.read([INDEX % record.dataset])[INDEX % record.dataset]
    data = json.loads(current.text) if current is not None else None
    old = VmIndex(record.dataset, datetime.datetime.fromisoformat(data["covered_until"]), data["vms"]) if data else None
    repository.write(INDEX % record.dataset, encode(Catalog._spans_only(record.dataset, old, [record])),  # pylint: disable=protected-access
                     expected_sha256=current.sha256 if current else None, create_only=current is None)


@pytest.mark.parametrize("seed", range(10))
def test_vm_listing_equals_reading_every_record(catalog, repository, seed):
    rng = random.Random(seed)
    catalog.put_dataset(Dataset("test"))
    taken = {"prod": set(), "test": set()}
    newest = {"prod": 0, "test": 0}
    orphan = {"prod": False, "test": False}  # a record whose writer died before indexing it
    for step in range(60):
        dataset = rng.choice(("prod", "prod", "test"))
        action = rng.random()
        if action < 0.55 or not taken[dataset]:
            newest[dataset] += rng.choice((1, 1, 1, 2, 5))
            hour = newest[dataset]
            save(catalog, rng, random_backup(rng, dataset, T0 + hour * HOUR))
            orphan[dataset] = False  # our index update read it
        elif action < 0.62:
            # Out of order: a backup older than the newest, at a free hour (a controller that waited for the lease).
            free = [hour for hour in range(newest[dataset]) if hour not in taken[dataset]]
            if not free:
                continue
            hour = rng.choice(free)
            save(catalog, rng, random_backup(rng, dataset, T0 + hour * HOUR))
            orphan[dataset] = False  # our index update read it
        elif action < 0.72:
            # Retention: delete some of the dataset's backups.
            summaries = catalog.list_backups(dataset=dataset)
            doomed = rng.sample(summaries, min(len(summaries), rng.randint(1, 4)))
            catalog.delete_backups(doomed)
            taken[dataset] -= set(int((s.time - T0) / HOUR) for s in doomed)
            hour = None
        elif action < 0.78:
            # A backup withdrawn and recorded again as a failed attempt under the same name, other VMs.
            summary = rng.choice(catalog.list_backups(dataset=dataset))
            catalog.delete_backups([summary])
            record = random_backup(rng, dataset, summary.time)
            catalog.save_backup(dataclasses.replace(record, status="failed", failed_step="snapshot"))
            orphan[dataset] = False
            hour = None
        elif action < 0.85:
            # A writer that died between the record and the index.
            newest[dataset] += 1
            hour = newest[dataset]
            record = random_backup(rng, dataset, T0 + hour * HOUR)
            repository.write("smhv/v1/backups/%s/%s" % (dataset, backup_file_name(record)), encode(record), create_only=True)
            orphan[dataset] = True
        elif action < 0.93:
            # A collection from before `exact` backs up: its index is spans only until ours writes it again. (Not right
            # after a writer died: the old collection moves covered_until past the orphan unread, and hides it.)
            if orphan[dataset]:
                continue
            newest[dataset] += 1
            hour = newest[dataset]
            old_collection_save(catalog, repository, random_backup(rng, dataset, T0 + hour * HOUR))
            assert not index_of(repository, dataset).exact
        else:
            catalog.rebuild_vm_index(dataset)
            orphan[dataset] = False
            assert index_of(repository, dataset).exact
            hour = None
        if hour is not None:
            taken[dataset].add(hour)
        check_every_vm(catalog, step)
    check_every_vm(catalog, "end")


def test_vm_listing_reads_no_record_the_index_covers(catalog, repository):
    rng = random.Random(7)
    for hour in range(60):
        catalog.save_backup(random_backup(rng, "prod", T0 + hour * HOUR))
    catalog.delete_backups(catalog.list_backups(dataset="prod")[:10])
    reads = []
    original = repository.read
    repository.read = lambda paths: reads.append(list(paths)) or original(paths)
    for vm in VMS:
        assert catalog.list_backups(vm_id="id-" + vm)
    assert [path for batch in reads for path in batch if "/backups/" in path] == []
    assert len(reads) == len(VMS)  # one read per listing: the index


def test_only_backups_newer_than_the_index_are_read(catalog, repository):
    for hour in range(20):
        catalog.save_backup(make_backup("prod", T0 + hour * HOUR, vms=("a", "b") if hour % 3 else ("a",)))
    late = make_backup("prod", T0 + 20 * HOUR, vms=("b",))  # its writer died before the index
    repository.write("smhv/v1/backups/prod/" + backup_file_name(late), encode(late), create_only=True)
    reads = []
    original = repository.read
    repository.read = lambda paths: reads.append(list(paths)) or original(paths)
    found = catalog.list_backups(vm_id="id-b")
    assert found[-1].name == late.name and len(found) == 14
    assert [path for batch in reads for path in batch if "/backups/" in path] == [found[-1].path]
    # The next backup indexes the orphan too (reading it, once), and the listing reads nothing again.
    repository.read = original
    catalog.save_backup(make_backup("prod", T0 + 21 * HOUR, vms=("a",)))
    repository.read = lambda paths: reads.append(list(paths)) or original(paths)
    reads.clear()
    assert catalog.list_backups(vm_id="id-b") == found
    assert [path for batch in reads for path in batch if "/backups/" in path] == []


def test_an_old_index_reads_the_span_until_the_next_backup_makes_it_exact(catalog, repository):
    for hour in range(30):
        old_collection_save(catalog, repository, make_backup("prod", T0 + hour * HOUR, vms=("a", "b") if 10 <= hour < 20 else ("a",)))
    assert not index_of(repository, "prod").exact
    reads = []
    original = repository.read
    repository.read = lambda paths: reads.append(list(paths)) or original(paths)
    assert len(catalog.list_backups(vm_id="id-b")) == 10
    assert len([path for batch in reads for path in batch if "/backups/" in path]) == 10  # b's span, as before
    repository.read = original
    catalog.save_backup(make_backup("prod", T0 + 30 * HOUR, vms=("b",)))  # back after 10 backups without it
    index = index_of(repository, "prod")
    # a's span ends before the new backup, which does not hold it: nothing to say about a.
    assert index.exact and index.absent == {"id-b": [[(T0 + 20 * HOUR).isoformat(), (T0 + 29 * HOUR).isoformat()]]}
    repository.read = lambda paths: reads.append(list(paths)) or original(paths)
    reads.clear()
    assert len(catalog.list_backups(vm_id="id-b")) == 11
    assert [path for batch in reads for path in batch if "/backups/" in path] == []


def test_unreadable_records_leave_the_index_as_it_was_before_exact(catalog, repository):
    for hour in range(5):
        old_collection_save(catalog, repository, make_backup("prod", T0 + hour * HOUR))
    repository.write("smhv/v1/backups/prod/" + backup_file_name(make_backup("prod", T0 + 2 * HOUR)), "{broken")
    catalog.save_backup(make_backup("prod", T0 + 5 * HOUR, vms=("a", "b")))  # the backup is recorded all the same
    index = index_of(repository, "prod")
    assert not index.exact and set(index.vms) == {"id-a", "id-b"} and index.covered_until == T0 + 5 * HOUR


def test_index_stays_small_when_vms_are_in_every_backup_of_their_span(catalog, repository):
    vms = tuple("vm%03d" % number for number in range(200))
    for hour in range(50):
        # vm000-vm009 leave for hours 10-39 and come back; vm199 joins at hour 25.
        present = tuple(vm for vm in vms if not (vm < "vm010" and 10 <= hour < 40) and not (vm == "vm199" and hour < 25))
        catalog.save_backup(make_backup("prod", T0 + hour * HOUR, vms=present))
    index = index_of(repository, "prod")
    assert index.exact and set(index.absent) == set("id-vm%03d" % number for number in range(10))
    assert all(ranges == [[(T0 + 10 * HOUR).isoformat(), (T0 + 39 * HOUR).isoformat()]] for ranges in index.absent.values())
    size = len(repository.read([INDEX % "prod"])[INDEX % "prod"].text)
    assert size < 200 * 150  # a name and two times per VM, one range each for the ten that left
    assert catalog.list_backups(vm_id="id-vm199")[0].time == T0 + 25 * HOUR
    assert len(catalog.list_backups(vm_id="id-vm005")) == 20


def test_retention_forgets_absences_older_than_every_backup(catalog, repository):
    for hour in range(20):
        catalog.save_backup(make_backup("prod", T0 + hour * HOUR, vms=("a", "b") if hour % 5 else ("a",)))
    assert len(index_of(repository, "prod").absent["id-b"]) == 3
    catalog.delete_backups(catalog.list_backups(dataset="prod")[:12])
    catalog.save_backup(make_backup("prod", T0 + 20 * HOUR, vms=("a", "b")))
    assert index_of(repository, "prod").absent == {"id-b": [[(T0 + 15 * HOUR).isoformat()] * 2]}
    assert catalog.list_backups(vm_id="id-b") == brute_force(catalog, "b")


def test_two_writers_of_one_dataset_keep_the_index_exact(catalog, repository):
    catalog = Catalog(repository)  # real sleeps for the back-off

    def writer(offset, vms):
        def save():
            for step in range(30):
                catalog.save_backup(make_backup("prod", T0 + (2 * step + offset) * HOUR, vms=vms[step % len(vms)]))
        return save

    run_together(writer(0, [("a", "c"), ("a",), ("c", "d")]), writer(1, [("b", "c"), ("d",), ("b",), ("a", "b")]))
    assert index_of(repository, "prod").exact
    for vm in ("a", "b", "c", "d"):
        assert catalog.list_backups(vm_id="id-" + vm) == brute_force(catalog, vm)
