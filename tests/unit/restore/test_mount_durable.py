"""smhv_mount under its lease and journal (issue 13): a mount is recorded in the catalog with clones named after its
operation, so a second one finds them; a failed mount drops every clone it made; a killed mount is undone and a killed
unmount finished by the next run on that backup and host."""
from __future__ import annotations

import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.record import list_mounts, mount_path
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.run import MountEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from unit.restore.sim import Killed
from unit.restore.test_mount_paths import BACKUP, Host, Session, Storage, where_now


class FailingHost(Host):
    """Fails (or dies) at the nth call of `op`."""

    def __init__(self, op, nth, kill=False):
        super().__init__(where_now())
        self.op, self.nth, self.kill, self.seen = op, nth, kill, 0

    def call(self, op, args=None):
        if op == self.op:
            self.seen += 1
            if self.seen == self.nth:
                self.calls.append((op, args))
                if self.kill:
                    raise Killed(op)
                raise SmhvError("AGENT_ERROR", "Injected failure of %s." % op, {"op": op})
        return super().call(op, args)


def run(host, storage, **options):
    return MountEngine(Session(host), storage, storage.catalog).run(BACKUP, **options)


def record(storage):
    found = storage.catalog.repository.read([mount_path(BACKUP, "hv01")])[mount_path(BACKUP, "hv01")]
    return json.loads(found.text) if found else None


def test_a_mount_is_recorded_with_clones_named_after_its_operation_and_found_again():
    host, storage = Host(where_now()), Storage()
    first = run(host, storage, vm="vm1")
    mounted = record(storage)
    (entry,) = mounted["luns"].values()
    short = entry["operation"].split("~")[1][:8]
    assert entry["clone"] == first["mounts"][0]["clone"] == "/vol/vol_hv/smhv_mount_lun_j_" + short
    assert [m["backup"] for m in list_mounts(storage.catalog)] == [BACKUP]
    again = run(host, storage, vm="vm1")
    assert not again["changed"] and again["mounts"] == first["mounts"] and record(storage)["luns"] == mounted["luns"]
    assert run(host, storage, vm="vm1", state="unmounted")["changed"]
    assert record(storage) is None and not storage.san.clones and storage.catalog.list_journals() == []


def test_a_failed_mount_drops_every_clone_it_made_and_records_nothing():
    host, storage = FailingHost("disk_connect", 2), Storage()
    with pytest.raises(SmhvError):
        run(host, storage)
    assert not storage.san.clones and record(storage) is None and storage.catalog.list_journals() == []
    assert len(storage.san.deleted) == 2  # the first LUN's clone (connected) and the second's


def test_a_killed_mount_is_undone_by_the_next_mount():
    host, storage = FailingHost("disk_connect", 2, kill=True), Storage()
    with pytest.raises(Killed):
        run(host, storage)
    assert len(storage.san.clones) == 2 and [j.record.operation for j in storage.catalog.list_journals()] == ["mount"]
    result = run(host, storage)
    assert [(o["operation"], o["result"]) for o in result["recovered"]] == [("mount", "undone")]
    assert len(storage.san.clones) == 3 and len(record(storage)["luns"]) == 3 and storage.catalog.list_journals() == []


def test_a_killed_unmount_is_finished_by_the_next_unmount():
    host, storage = FailingHost("disk_disconnect", 2, kill=True), Storage()
    run(host, storage)
    with pytest.raises(Killed):
        run(host, storage, state="unmounted")
    assert len(storage.san.clones) == 2 and len(record(storage)["luns"]) == 3  # the first deleted, the record not yet written
    result = run(host, storage, state="unmounted")
    assert [(o["operation"], o["result"]) for o in result["recovered"]] == [("unmount", "finished")]
    assert not storage.san.clones and record(storage) is None and storage.catalog.list_journals() == []
