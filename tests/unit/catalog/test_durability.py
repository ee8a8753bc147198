"""The durable pieces of the catalog (docs/durability.md): fenced leases, breaking a dead holder's lease, lost answers
settled by reading back, journals and their recovery."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import socket

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import journal as journals
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Lease, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal, recover
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from unit.catalog.factory import T0, make_backup

MINUTES = datetime.timedelta(minutes=1)
LEASE_FILE = "smhv/v1/leases/hvc1.json"


def _dead_pid():
    """A process id that is not running now."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def _lease_of_another_controller(repository, renewed, heartbeat=60.0, expires=None):
    lease = Lease("hvc1", "backup on ctl-other", "othertoken", renewed, expires or renewed + 5 * MINUTES, generation=3,
                  controller="ctl-other.example", pid=99, renewed=renewed, heartbeat_seconds=heartbeat)
    repository.write(LEASE_FILE, encode(lease))


def test_a_new_holder_gets_the_next_generation_and_a_new_token(catalog, clock):
    first = catalog.acquire_lease("hvc1", "first", 10 * MINUTES, operation="backup~a")
    assert first.record.generation == 1 and first.record.controller == socket.gethostname() and first.record.pid == os.getpid()
    catalog.release_lease(first)
    second = catalog.acquire_lease("hvc1", "second", 10 * MINUTES)
    assert second.record.generation == 2 and second.record.token != first.record.token


def test_a_fenced_write_and_delete_of_a_run_that_lost_its_lease_change_nothing(catalog, clock, repository):
    old = catalog.acquire_lease("hvc1", "slow run", 5 * MINUTES)
    fence = catalog.lease_fence(old)
    record = make_backup("prod", T0)
    catalog.save_backup(record, fence=fence)  # held: the commit goes through
    clock.sleep(6 * 60)
    catalog.acquire_lease("hvc1", "next run", 5 * MINUTES)  # the slow run's lease expired and was taken over
    with pytest.raises(SmhvError) as caught:
        catalog.save_backup(make_backup("prod", T0 + MINUTES), fence=fence)
    assert caught.value.code == "LEASE_LOST"
    with pytest.raises(SmhvError) as caught:
        catalog.delete_backups(catalog.list_backups(dataset="prod"), fence=fence)
    assert caught.value.code == "LEASE_LOST"
    assert [s.name for s in catalog.list_backups(dataset="prod")] == [record.name]
    with pytest.raises(SmhvError) as caught:
        catalog.check_lease(old)
    assert caught.value.code == "LEASE_LOST"


def test_a_released_lease_fences_too(catalog):
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    catalog.release_lease(held)
    with pytest.raises(SmhvError) as caught:
        catalog.save_backup(make_backup("prod", T0), fence=catalog.lease_fence(held))
    assert caught.value.code == "LEASE_LOST" and catalog.list_backups(dataset="prod") == []


def test_release_is_idempotent_after_a_lost_answer(catalog):
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    catalog.release_lease(held)
    assert catalog.release_lease(held).record.released  # the second release (a retry) finds it released by us


def test_a_lost_answer_to_the_lease_write_is_read_back(catalog, repository):
    write = repository.write

    def lost_answer(path, text, expected_sha256=None, create_only=False, fence=None):
        write(path, text, expected_sha256, create_only, fence)
        raise SmhvError("HOST_UNREACHABLE", "the answer was lost", {"may_have_run": True})

    repository.write = lost_answer
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    repository.write = write
    assert catalog.read_lease("hvc1").record.token == held.record.token


def test_a_lost_answer_to_a_write_that_did_not_happen_still_fails(catalog, repository):
    def lost_before(path, text, expected_sha256=None, create_only=False, fence=None):
        raise SmhvError("HOST_UNREACHABLE", "the answer was lost", {"may_have_run": True})

    repository.write = lost_before
    with pytest.raises(SmhvError) as caught:
        catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    assert caught.value.code == "HOST_UNREACHABLE"


def test_a_killed_holder_on_this_controller_does_not_block_the_next_run(catalog, repository, clock):
    dead = Lease("hvc1", "killed run", "deadtoken", T0, T0 + 30 * MINUTES, generation=4, controller=socket.gethostname(),
                 pid=_dead_pid(), renewed=T0, heartbeat_seconds=60.0)
    repository.write(LEASE_FILE, encode(dead))
    held = catalog.acquire_lease("hvc1", "next run", 5 * MINUTES)
    assert held.record.generation == 5 and held.record.holder == "next run"


def test_a_live_holder_elsewhere_is_not_broken_but_a_silent_one_is(catalog, repository, clock):
    _lease_of_another_controller(repository, renewed=clock() - datetime.timedelta(seconds=30))
    with pytest.raises(SmhvError) as caught:
        catalog.break_lease("hvc1")
    assert caught.value.code == "LEASE_HELD" and "backup on ctl-other" in caught.value.message
    with pytest.raises(SmhvError) as caught:
        catalog.acquire_lease("hvc1", "next run", 5 * MINUTES)
    assert caught.value.code == "SCOPE_BUSY" and "smhv_cleanup" in caught.value.message
    clock.sleep(120)  # two heartbeats without a renewal: presumed dead, although the lease has not expired
    broken = catalog.break_lease("hvc1")
    assert broken.token == "othertoken" and catalog.read_lease("hvc1").record.released
    assert catalog.acquire_lease("hvc1", "next run", 5 * MINUTES).record.generation == 4
    assert catalog.break_lease("nosuchscope") is None


def test_a_lease_holder_on_this_controller_that_runs_is_alive(catalog):
    held = catalog.acquire_lease("hvc1", "this process", 5 * MINUTES, heartbeat=1.0)
    with pytest.raises(SmhvError) as caught:
        catalog.break_lease("hvc1")
    assert caught.value.code == "LEASE_HELD" and held.record.pid == os.getpid()


def test_the_keeper_renews_keeps_the_token_and_releases(catalog, clock):
    ttl = 5 * MINUTES
    held = catalog.acquire_lease("hvc1", "run", ttl, heartbeat=heartbeat_seconds(ttl))
    keeper = LeaseKeeper(catalog, held, ttl, interval=3600)  # renewals driven by the test
    clock.sleep(100)
    keeper.renew_now()
    assert keeper.renewals == 1 and catalog.read_lease("hvc1").record.expires == clock() + ttl
    assert keeper.fence().token == held.record.token
    catalog.save_backup(make_backup("prod", T0), fence=keeper.fence())
    keeper.release()
    assert catalog.read_lease("hvc1").record.released


def test_the_keeper_reports_a_lost_lease(catalog, clock):
    ttl = 5 * MINUTES
    keeper = LeaseKeeper(catalog, catalog.acquire_lease("hvc1", "run", ttl), ttl, interval=3600)
    clock.sleep(6 * 60)
    catalog.acquire_lease("hvc1", "next", ttl)
    keeper.renew_now()
    with pytest.raises(SmhvError) as caught:
        keeper.fence()
    assert caught.value.code == "LEASE_LOST"
    keeper.release()  # never releases the new holder's lease
    assert catalog.read_lease("hvc1").record.holder == "next" and not catalog.read_lease("hvc1").record.released


def test_the_keeper_renews_in_the_background(catalog):
    ttl = 5 * MINUTES
    held = catalog.acquire_lease("hvc1", "run", ttl)
    with LeaseKeeper(catalog, held, ttl, interval=0.01) as keeper:
        while keeper.renewals < 3:
            pass
    assert catalog.read_lease("hvc1").record.released


def test_a_journal_claims_its_key_and_keeps_an_undo_log(catalog, clock):
    held = catalog.acquire_lease("hvc1", "backup", 5 * MINUTES)
    journal = OperationJournal.begin(catalog, "backup", "hvc1", held, key="prod_03-14-2026_09.00.00", subject="prod", clock=clock)
    with pytest.raises(WriteConflict):
        OperationJournal.begin(catalog, "backup", "hvc1", held, key="prod_03-14-2026_09.00.00", clock=clock)
    journal.intend("checkpoint", hosts=["hv01", "hv02"], name="smhv_x")
    journal.done("checkpoint", made={"hv01": ["vm1"]})
    journal.intend("snapshot", volumes=["vol1", "vol2"])
    journal.intend("record", path="a/b.json")
    journal.undone("record")
    assert journal.undo_log() == [("snapshot", {"volumes": ["vol1", "vol2"]}),
                                  ("checkpoint", {"hosts": ["hv01", "hv02"], "name": "smhv_x", "made": {"hv01": ["vm1"]}})]
    stored = catalog.get_journal("backup~prod_03-14-2026_09.00.00").record
    assert stored.lease == "hvc1" and stored.lease_token == held.record.token and len(stored.steps) == 5
    journal.close()
    assert catalog.list_journals() == []


def test_only_the_next_holder_of_the_lease_recovers_an_abandoned_journal(catalog, clock, monkeypatch):
    recovered = []

    def undo_all(journal, context):
        recovered.append((journal.id, [step for step, _data in journal.undo_log()], context))
        journal.close()
        return {"undone": ["everything"]}

    monkeypatch.setitem(journals.RECOVERY, "backup", undo_all)
    killed = catalog.acquire_lease("hvc1", "killed run", 5 * MINUTES)
    journal = OperationJournal.begin(catalog, "backup", "hvc1", killed, key="k1", clock=clock)
    journal.intend("snapshot", volumes=["vol1"])
    assert recover(catalog, killed, "ctx") == []  # its own holder sees nothing abandoned
    clock.sleep(6 * 60)
    held = catalog.acquire_lease("hvc1", "next run", 5 * MINUTES)
    outcomes = recover(catalog, held, "ctx")
    assert outcomes == [{"journal": "backup~k1", "operation": "backup", "subject": None, "undone": ["everything"]}]
    assert recovered == [("backup~k1", ["snapshot"], "ctx")] and catalog.list_journals() == []


def test_a_recovery_that_fails_leaves_the_journal_for_the_next_holder(catalog, clock, monkeypatch):
    def failing(journal, context):
        raise SmhvError("STORAGE_ERROR", "cluster down")

    monkeypatch.setitem(journals.RECOVERY, "restore", failing)
    first = catalog.acquire_lease("hvc1", "killed", 5 * MINUTES)
    OperationJournal.begin(catalog, "restore", "hvc1", first, clock=clock)
    OperationJournal.begin(catalog, "unknown_op", "hvc1", first, clock=clock)
    clock.sleep(6 * 60)
    held = catalog.acquire_lease("hvc1", "next", 5 * MINUTES)
    outcomes = recover(catalog, held, None)
    assert sorted(o["error"]["code"] for o in outcomes) == ["RECOVERY_UNKNOWN", "STORAGE_ERROR"]
    left = {j.record.operation: j.record for j in catalog.list_journals()}
    assert left["restore"].state == "undo_incomplete" and left["restore"].error["code"] == "STORAGE_ERROR"
    assert left["restore"].lease_token == held.record.token  # taken over: not recovered twice at once
    catalog.release_lease(held)
    again = catalog.acquire_lease("hvc1", "third", 5 * MINUTES)
    assert len(recover(catalog, again, None)) == 2


def test_a_journal_is_closed_only_under_its_lease(catalog, clock):
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    journal = OperationJournal.begin(catalog, "mount", "hvc1", held, clock=clock)
    clock.sleep(6 * 60)
    catalog.acquire_lease("hvc1", "next", 5 * MINUTES)
    with pytest.raises(SmhvError) as caught:
        journal.close()
    assert caught.value.code == "LEASE_LOST" and len(catalog.list_journals()) == 1


def test_a_vm_lease_is_its_own_file(catalog):
    vm = catalog.acquire_lease("hvc1", "restore of vm1", 5 * MINUTES, name="vm~0f1e")
    scope = catalog.acquire_lease("hvc1", "backup", 5 * MINUTES)
    assert vm.record.file_name == "vm~0f1e" and catalog.lease_fence(vm).path == "smhv/v1/leases/vm~0f1e.json"
    assert scope.record.file_name == "hvc1"
    with pytest.raises(SmhvError) as caught:
        catalog.acquire_lease("hvc1", "another restore", 5 * MINUTES, name="vm~0f1e")
    assert caught.value.code == "SCOPE_BUSY" and "VM 0f1e of scope hvc1" in caught.value.message


def test_old_leases_without_the_new_fields_still_decode(catalog, repository):
    old = {"kind": "lease", "schema_version": 1, "scope": "hvc1", "holder": "old", "token": "t", "acquired": T0.isoformat(),
           "expires": (T0 + MINUTES).isoformat(), "released": False}
    repository.write(LEASE_FILE, json.dumps(old))
    lease = catalog.read_lease("hvc1").record
    assert lease.generation == 0 and dataclasses.replace(lease).file_name == "hvc1"


def test_a_journal_write_that_landed_although_it_failed_keeps_every_step(catalog, clock, repository):
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    journal = OperationJournal.begin(catalog, "restore", "hvc1", held, clock=clock)
    write = repository.write

    def landed_then_lost(path, text, expected_sha256=None, create_only=False, fence=None):
        write(path, text, expected_sha256, create_only, fence)
        raise SmhvError("HOST_PROTOCOL_ERROR", "garbled answer")  # not marked may_have_run: the journal is stale now

    repository.write = landed_then_lost
    with pytest.raises(SmhvError):
        journal.intend("stop", vm="vm1")
    repository.write = write
    journal.intend("remove", vm="vm1")  # over the version on the host: the landed step stays
    assert [step for step, _data in journal.undo_log()] == ["remove", "stop"]
    assert [s.name for s in catalog.get_journal(journal.id).record.steps] == ["stop", "remove"]


def test_a_journal_that_vanished_is_a_clear_error_not_a_write_conflict(catalog, clock):
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    journal = OperationJournal.begin(catalog, "mount", "hvc1", held, clock=clock)
    catalog.delete_journal(journal.id)
    with pytest.raises(SmhvError) as caught:
        journal.intend("clone", name="c1")
    assert caught.value.code == "CATALOG_CONFLICT" and journal.id in caught.value.message


def test_update_backup_rewrites_a_record_in_place_under_its_lease(catalog, clock):
    held = catalog.acquire_lease("hvc1", "run", 5 * MINUTES)
    record = make_backup("prod", T0)
    catalog.save_backup(record, fence=catalog.lease_fence(held))
    warned = dataclasses.replace(record, warnings=({"step": "replication", "code": "STORAGE_ERROR", "message": "x"},))
    catalog.update_backup(record, warned, fence=catalog.lease_fence(held))
    assert catalog.get_backup("prod", record.name).warnings[0]["step"] == "replication"
    with pytest.raises(WriteConflict):
        catalog.update_backup(record, warned)  # over a version that is no longer there
    with pytest.raises(ValueError):
        catalog.update_backup(warned, dataclasses.replace(warned, status="failed"))


def test_the_keeper_checks_and_releases_over_the_foreground_catalog(catalog, clock, repository):
    ttl = 5 * MINUTES
    held = catalog.acquire_lease("hvc1", "run", ttl)
    renewals = []

    class Renewer:
        clock = catalog.clock

        def renew_lease(self, lease, lease_ttl):
            renewals.append(lease)
            return catalog.renew_lease(lease, lease_ttl)

    keeper = LeaseKeeper(Renewer(), held, ttl, interval=3600, foreground=catalog)
    keeper.check_now()
    keeper.renew_now()
    keeper.release()
    assert len(renewals) == 1 and catalog.read_lease("hvc1").record.released
