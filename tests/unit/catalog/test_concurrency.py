"""Two writers at once: no lost record, CAS conflicts retried, leases exclusive, expired leases taken over."""
from __future__ import annotations

import dataclasses
import datetime
import threading

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import CAS_ATTEMPTS
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import DatasetMember, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from unit.catalog.factory import T0, make_backup, run_together

MINUTES = datetime.timedelta(minutes=1)


def test_two_writers_adding_members_lose_nothing(catalog, repository):
    catalog = Catalog(repository)  # real sleeps: the back-off after a lost race is part of what is tested
    conflicts = []
    write = repository.write

    def counting_write(path, text, expected_sha256=None, create_only=False, fence=None):
        try:
            return write(path, text, expected_sha256, create_only, fence)
        except WriteConflict:
            conflicts.append(path)
            raise

    repository.write = counting_write

    # Both writers hold the same version before either writes, once, so they race on every run; left to the
    # scheduler, one thread often finished its 50 updates before the other started.
    both_read = threading.Barrier(2, timeout=10)

    def writer(prefix):
        def add_all():
            for number in range(50):
                member = DatasetMember("%s-%02d" % (prefix, number), "hvc1", "%s%02d" % (prefix, number))
                catalog.update_dataset("prod", lambda dataset, m=member: add(dataset, m))
        return add_all

    waited = set()

    def add(dataset, member):
        if member.vm_id.endswith("-00") and member.vm_id not in waited:
            waited.add(member.vm_id)
            both_read.wait()
        return dataclasses.replace(dataset, members=dataset.members + (member,))

    run_together(writer("a"), writer("b"))
    members = catalog.get_dataset("prod").record.members
    assert len(members) == 100 and len(set(m.vm_id for m in members)) == 100
    assert conflicts, "the writers never raced; the test proves nothing"


def test_lost_cas_race_is_retried_with_the_fresh_version(catalog, repository):
    # Another controller writes between our read and our write, once: the update re-reads and applies on top.
    write = repository.write
    raced = []

    def racing_write(path, text, expected_sha256=None, create_only=False, fence=None):
        if path.endswith("datasets/prod.json") and not raced:
            raced.append(True)
            theirs = catalog.get_dataset("prod")
            write(path, encode(dataclasses.replace(theirs.record, description="theirs")), theirs.sha256)
        return write(path, text, expected_sha256, create_only, fence)

    repository.write = racing_write
    catalog.update_dataset("prod", lambda d: dataclasses.replace(d, members=d.members + (DatasetMember("id-x", "hvc1", "x"),)))
    final = catalog.get_dataset("prod").record
    assert final.description == "theirs" and [m.vm_id for m in final.members] == ["id-x"]


def test_cas_that_never_wins_gives_up_with_a_clear_error(catalog, repository):
    def always_conflicting(path, text, expected_sha256=None, create_only=False, fence=None):
        raise WriteConflict(path, expected_sha256, "0" * 64)

    repository.write = always_conflicting
    with pytest.raises(SmhvError) as caught:
        catalog.update_dataset("prod", lambda d: dataclasses.replace(d, description="x"))
    assert caught.value.code == "CATALOG_CONFLICT" and "%d attempts" % CAS_ATTEMPTS in caught.value.message


def test_concurrent_backups_of_two_datasets_keep_every_record_and_index(catalog):
    catalog.put_dataset(dataclasses.replace(catalog.get_dataset("prod").record, name="test", created=None))

    def backups(dataset, vm):
        def save():
            for hour in range(40):
                catalog.save_backup(make_backup(dataset, T0 + hour * 60 * MINUTES, vms=(vm,)))
        return save

    run_together(backups("prod", "a"), backups("test", "b"))
    assert len(catalog.list_backups(dataset="prod")) == 40 and len(catalog.list_backups(dataset="test")) == 40
    assert len(catalog.list_backups(vm_id="id-a")) == 40 and len(catalog.list_backups(vm_id="id-b")) == 40


def test_only_one_of_two_racing_acquirers_gets_the_lease(catalog):
    won, busy = [], []

    def acquire(holder):
        def take():
            try:
                won.append(catalog.acquire_lease("hvc1", holder, 10 * MINUTES))
            except SmhvError as error:
                busy.append(error)
        return take

    run_together(acquire("ctl-a"), acquire("ctl-b"))
    assert len(won) == 1 and len(busy) == 1
    assert busy[0].code == "SCOPE_BUSY" and won[0].record.holder in busy[0].message


def test_busy_lease_fails_fast_naming_the_holder(catalog):
    catalog.acquire_lease("hvc1", "backup prod (ctl01 pid 4242)", 10 * MINUTES)
    with pytest.raises(SmhvError) as caught:
        catalog.acquire_lease("hvc1", "restore sql1", 10 * MINUTES)
    assert caught.value.code == "SCOPE_BUSY"
    assert "Scope hvc1 is busy: backup prod (ctl01 pid 4242) has held its lease since 2026-03-14T09:00:00+00:00 (until " \
           "2026-03-14T09:10:00+00:00 unless renewed)" in caught.value.message
    assert caught.value.details["holder"] == "backup prod (ctl01 pid 4242)"


def test_waiting_acquirer_gets_the_lease_once_released(catalog, repository, clock):
    held = catalog.acquire_lease("hvc1", "first", 10 * MINUTES)
    sleeps = []
    real_sleep = clock.sleep

    def sleep(seconds):
        sleeps.append(seconds)
        real_sleep(seconds)
        if len(sleeps) == 3:
            Catalog(repository, clock=clock).release_lease(held)

    waiting = Catalog(repository, clock=clock, sleep=sleep)
    lease = waiting.acquire_lease("hvc1", "second", 10 * MINUTES, wait=60, poll=5)
    assert lease.record.holder == "second" and sleeps == [5, 5, 5]


def test_waiting_gives_up_after_the_timeout(catalog, clock):
    catalog.acquire_lease("hvc1", "first", 10 * MINUTES)
    with pytest.raises(SmhvError) as caught:
        catalog.acquire_lease("hvc1", "second", 10 * MINUTES, wait=30, poll=7)
    assert "did not release it within 30 s" in caught.value.message
    assert clock() == T0 + datetime.timedelta(seconds=30)


def test_expired_lease_is_taken_over_and_its_old_holder_learns_it(catalog, clock):
    old = catalog.acquire_lease("hvc1", "crashed run", 10 * MINUTES)
    clock.sleep(11 * 60)
    new = catalog.acquire_lease("hvc1", "next run", 10 * MINUTES)
    assert new.record.holder == "next run" and new.record.token != old.record.token
    with pytest.raises(SmhvError) as caught:
        catalog.renew_lease(old, 10 * MINUTES)
    assert caught.value.code == "LEASE_LOST" and "now held by next run" in caught.value.message
    with pytest.raises(SmhvError):
        catalog.release_lease(old)
    renewed = catalog.renew_lease(new, 30 * MINUTES)
    assert renewed.record.expires == clock() + 30 * MINUTES
