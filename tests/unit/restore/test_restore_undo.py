"""A restore that fails at any step, or whose process dies there, leaves the VM as it was before (registered, running,
its disk online) or finishes it once the backup's data is back; never half-removed, never a clone left (issue 13).
Against the small stateful host of sim.py; each side effect is journaled, and a later run (or smhv_cleanup, through
journal.recover) settles a journal that a killed run left."""
from __future__ import annotations

import dataclasses
import datetime
import os
import subprocess

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import journal
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.operation import RecoveryContext
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from unit.restore.sim import BACKUP, SERIAL, VM_ID, Catalog, Faults, Host, Killed, Session, Storage, paths

LUN_LEVEL = ["vm_stop", "file_copy", "vm_remove", "disk_disconnect", "restore_file", "disk_connect", "vm_import", "vm_start"]
FILE_COPY = ["vm_stop", "vm_remove", "clone_lun", "map_lun", "disk_connect", "file_copy", "vm_import", "vm_start"]
NTH = {("file_copy", True): 2}  # file copy: the first file_copy saves the configuration, the second copies the backup's files


def world(neighbour=False):
    faults = Faults()
    host = Host(faults, neighbour=neighbour)
    return faults, host, Storage(faults, host), Catalog()


def restore(host, storage, catalog, **options):
    options.setdefault("backup", BACKUP)
    return RestoreEngine(Session(host), storage, catalog).run(VM_ID, **options)


def assert_as_before_or_finished(host, storage, catalog):
    assert host.vms[VM_ID]["state"] == "Running" and host.vms[VM_ID]["config"] == paths("K:\\")["config"]
    assert host.disks[SERIAL] == {"online": True, "access_path": "K:\\"}
    assert not storage.san.clones and not [p for p in host.files if "smhv_undo_" in p]
    assert catalog.list_journals() == []
    assert catalog.read_lease("vm~" + VM_ID).record.released


@pytest.mark.parametrize("neighbour, op", [(False, op) for op in LUN_LEVEL] + [(True, op) for op in FILE_COPY])
def test_a_failure_at_any_step_leaves_the_vm_as_it_was_or_finishes(neighbour, op):
    faults, host, storage, catalog = world(neighbour)
    faults.fail(op, NTH.get((op, neighbour), 1))
    with pytest.raises(SmhvError) as failed:
        restore(host, storage, catalog)
    undo = failed.value.details["undo"]
    assert failed.value.details["vm_registered"] is True and undo["vm_state"] == "Running"
    data_back = op in ("vm_import", "vm_start") or (op == "disk_connect" and not neighbour)  # then it is finished
    assert undo["result"] == ("finished" if data_back else "undone"), undo
    assert ("back as it was" if undo["result"] == "undone" else "the restore was finished") in failed.value.message
    assert_as_before_or_finished(host, storage, catalog)
    done = restore(host, storage, catalog)  # the lease is free, and the next run is an ordinary restore
    assert done["vm"]["state"] == "Running" and host.files[paths("K:\\")["vhd"]] == "backup"


def test_a_successful_restore_journals_every_step_and_leaves_no_journal():
    faults, host, storage, catalog = world(neighbour=True)
    written = []
    original = catalog.put_journal
    catalog.put_journal = lambda record, sha: written.append(record) or original(record, sha)
    result = restore(host, storage, catalog)
    steps = [(step.name, step.state) for step in written[-1].steps]
    names = [name for name, state in steps if state == "done"]
    assert names == ["plan", "vm_stop", "config_save", "vm_remove", "clone:0", "copy:0", "clone_drop:0", "vm_import", "vm_start"]
    # every side effect's intent first (the clone's names its map and disk too; dropping it needs none)
    assert [name for name, state in steps if state == "intent"] == [name for name in names[1:] if name != "clone_drop:0"]
    plan = dict(written[-1].steps[0].data)
    assert plan["before"]["registered"] and plan["before"]["state"] == "Running" and plan["before"]["disks"] == [
        {"serial": SERIAL, "access_path": "K:\\"}]
    clone = next(step.data for step in written[-1].steps if step.name == "clone:0" and step.state == "intent")
    assert clone["igroup"] == "smhv_hv03" and clone["access_path"] == "C:\\SMHV\\Mounts\\" + clone["path"].rsplit("/", 1)[1] + "\\"
    assert clone["path"].startswith("/vol/vol_hv03/smhv_restore_%s_" % result["operation"].split("~")[1][:8])
    assert catalog.list_journals() == [] and not storage.san.clones


def test_check_mode_takes_no_lease_writes_no_journal_and_shows_the_same_actions():
    faults, host, storage, catalog = world(neighbour=True)
    planned = restore(host, storage, catalog, check_mode=True)
    assert catalog.read_lease("vm~" + VM_ID) is None and catalog.list_journals() == []
    assert not set(host.calls) - {"vm_inventory", "path_info", "file_list"}
    done = restore(host, storage, catalog)
    assert done["actions"] == planned["actions"]


def dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def kill(host, storage, catalog, op, nth=1, dead_holder=False):
    """Run a restore that dies at the nth `op`. A run interrupted in-process releases its lease and leaves its journal;
    with `dead_holder` the lease is then as SIGKILL leaves it: still held, by a process that is gone."""
    host.faults.fail(op, nth, kill=True)
    with pytest.raises(Killed):
        RestoreEngine(Session(host), storage, catalog).run(VM_ID, backup=BACKUP)
    if dead_holder:
        lease = catalog.read_lease("vm~" + VM_ID)
        held = dataclasses.replace(lease.record, released=False, pid=dead_pid())
        catalog._write(catalog._lease_path("vm~" + VM_ID), held, expected_sha256=lease.sha256)  # pylint: disable=protected-access
    assert [j.record.operation for j in catalog.list_journals()] == ["restore"]


@pytest.mark.parametrize("dead_holder", [False, True], ids=["released", "holder-pid-dead"])
def test_a_killed_file_copy_restore_is_settled_by_the_next_one(dead_holder):
    faults, host, storage, catalog = world(neighbour=True)
    kill(host, storage, catalog, "file_copy", nth=2, dead_holder=dead_holder)
    assert VM_ID not in host.vms and len(storage.san.clones) == 1  # half-removed, its clone connected
    planned = restore(host, storage, catalog, check_mode=True)  # says what a real run would settle, and changes nothing
    assert any("would be settled first" in note for note in planned["notes"]) and len(catalog.list_journals()) == 1
    result = restore(host, storage, catalog)
    assert any("interrupted restore" in note and "undone" in note for note in result["notes"]), result["notes"]
    assert not storage.san.clones and catalog.list_journals() == []
    assert host.vms[VM_ID]["state"] == "Running" and host.files[paths("K:\\")["vhd"]] == "backup"


def test_a_killed_lun_level_restore_after_the_snaprestore_is_finished_by_recovery():
    """smhv_cleanup's way: take the VM's lease, journal.recover() with a RecoveryContext."""
    faults, host, storage, catalog = world()
    kill(host, storage, catalog, "disk_connect")
    assert host.disks[SERIAL]["online"] is False and VM_ID not in host.vms
    held = catalog.acquire_lease("hv03", "smhv_cleanup", datetime.timedelta(minutes=5), name="vm~" + VM_ID)
    outcomes = journal.recover(catalog, held, RecoveryContext(Session(host), storage, catalog))
    assert [(o["operation"], o.get("result"), o.get("error")) for o in outcomes] == [("restore", "finished", None)]
    catalog.release_lease(held)
    assert host.disks[SERIAL] == {"online": True, "access_path": "K:\\"} and host.vms[VM_ID]["state"] == "Running"
    assert host.vms[VM_ID]["content"] == "backup" and catalog.list_journals() == []


def test_an_undo_that_cannot_finish_keeps_the_journal_open_for_the_next_run():
    faults, host, storage, catalog = world()
    faults.fail("restore_file")
    host.faults.rules["disk_connect"] = [1, False]  # the reconnect of the undo fails too
    with pytest.raises(SmhvError) as failed:
        restore(host, storage, catalog)
    assert "stays open" in failed.value.message and failed.value.details["undo"]["journal"].startswith("restore~")
    assert [j.record.state for j in catalog.list_journals()] == ["undo_incomplete"]
    result = restore(host, storage, catalog)
    assert any("interrupted restore" in note for note in result["notes"]) and catalog.list_journals() == []
    assert_as_before_or_finished(host, storage, catalog)
    assert os.getpid() == catalog.read_lease("vm~" + VM_ID).record.pid


def test_a_clean_up_that_fails_after_the_data_is_back_keeps_the_journal_for_the_next_run():
    """The copy is done and the VM started; the clone's disconnect fails: the restore succeeds, says so, and its journal
    (marked committed) stays for the next run, which removes what is left and touches the VM no more."""
    faults, host, storage, catalog = world(neighbour=True)
    faults.fail("disk_disconnect")  # the clone's, in the drop after the copy
    result = restore(host, storage, catalog)
    assert result["vm"]["state"] == "Running" and any("Clean-up left clone" in note for note in result["notes"])
    (left,) = catalog.list_journals()
    assert left.record.state == "undo_incomplete" and left.record.step("committed").state == "done"
    host.vms[VM_ID]["state"] = "Off"  # the user stops it meanwhile: settling the journal must not start it again
    host.op_vm_start = lambda args: pytest.fail("the committed restore's clean-up started the VM")
    planned = restore(host, storage, catalog, check_mode=True, force=True)
    assert any("would be settled first" in note for note in planned["notes"])
    engine = RestoreEngine(Session(host), storage, catalog)
    engine.run(VM_ID, backup=BACKUP, force=True, start=False)
    assert any("finished" in note for note in engine.notes) and catalog.list_journals() == []
    assert not storage.san.clones and not [s for s in host.disks if s != SERIAL] and host.vms[VM_ID]["state"] == "Off"
