# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settling a restore from its journal alone: after a failure in the run, and when a later run (or smhv_cleanup) finds
the journal of a restore whose process was killed (`recover_restore`, registered for operation "restore").

Every step is read from the journal (engines/restore/run.py writes them), so nothing of the run's memory is needed:

    plan                  done at the start: the target host, the VM (id, name), its state before (registered, state,
                          cluster role, configuration, disks and their access paths), the import to run, the LUNs
    vm_stop, cluster_role_remove, config_save, vm_remove
    disk_disconnect:<i>, snaprestore:<i>, disk_connect:<i>                          LUN-level restore of LUN i
    clone:<i>, map:<i>, clone_connect:<i>, copy:<i>, clone_drop:<i>                  file copy from a clone of LUN i
    vm_import, cluster_role_add, vm_start

How it settles, each part idempotent (absent counts as done):
1. every clone the journal names (by its name when its answer was lost) is disconnected, its folder removed, deleted;
2. every LUN disconnected for a LUN-level restore and not connected again is connected at its access path;
3. (a restore that ended but could not clean up journals `committed`: then only 1, 2 and the copies below) the VM's
   registration: when every LUN's data was restored, the restore is finished (the backup's configuration
   imported, highly available again, started as asked); otherwise the VM is put back as it was: its configuration, saved
   before Remove-VM, copied back and imported, its cluster role added, started if it was running. The saved copies go.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import register_recovery
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import LunRef


def _states(journal):
    """{step: its last state}."""
    return dict((entry.name, entry.state) for entry in journal.record.steps)


def drop_clone(host, storage, clone, check_now=None):
    """Disconnect and delete a clone named in a journal ({cluster, svm, volume, path, serial?, lun_uuid?, mount?}), and
    delete its mount folder (disk_connect made it; Remove-PartitionAccessPath leaves it empty). A clone whose answer was
    lost (no uuid) is looked up by its path; an absent one is already gone. Every part is tried; the first error is
    raised after the rest ran."""
    problems = []
    found = clone_ref(clone) if clone.get("lun_uuid") else None
    if found is None:
        try:
            found = storage.san.find_lun(clone["cluster"], clone["svm"], clone["path"])
        except SmhvError as error:
            problems.append(error)
    serial = found.serial if found is not None and found.serial else clone.get("serial")
    parts = []
    if serial:
        parts.append(lambda: host.call("disk_disconnect", {"serial": serial}))
    if clone.get("mount"):
        parts.append(lambda: host.call("file_delete", {"paths": [clone["mount"].rstrip("\\")]}))
    if found is not None:
        parts.append(lambda: _delete_lun(storage, found, check_now))
    if serial:
        parts.append(lambda: host.call("disk_rescan"))
    for part in parts:
        try:
            part()
        except SmhvError as error:
            problems.append(error)
    if problems:
        raise problems[0]


def _delete_lun(storage, lun, check_now):
    if check_now is not None:
        check_now()
    try:
        storage.san.delete_lun(lun, allow_mapped=True)
    except SmhvError as error:
        if error.code != "STORAGE_OBJECT_NOT_FOUND":
            raise


def clone_ref(data):
    """The LunRef a journal's clone step describes (for a clone made in this run: its answer)."""
    return LunRef(data["cluster"], data["svm"], data.get("volume", ""), "", data.get("lun_uuid", ""), data["path"], data.get("serial", ""), 0, "")


def _settle_luns(journal, host, storage, plan, states, check_now):
    for index, lun in enumerate(plan["luns"]):
        clone = journal.merged("clone:%d" % index)
        if clone and states.get("clone_drop:%d" % index) != "done":
            drop_clone(host, storage, clone, check_now)
            journal.done("clone_drop:%d" % index)
        offline = journal.merged("disk_disconnect:%d" % index)
        if offline and states.get("disk_connect:%d" % index) != "done":
            host.call("disk_connect", {"serial": offline["serial"], "access_path": offline["access_path"]})
            journal.done("disk_connect:%d" % index, serial=offline["serial"], access_path=offline["access_path"])


def _data_restored(plan, states):
    return all(states.get(("snaprestore:%d" if lun["method"] == "lun" else "copy:%d") % index) == "done"
               for index, lun in enumerate(plan["luns"]))


def _registered(host, vm_id):
    return bool(host.call("vm_inventory", {"ids": [vm_id], "require_all": False}).result["vms"])


def _put_back_configuration(journal, host, before):
    saved = journal.merged("config_save").get("copies") or []
    if saved and journal.state_of("config_save") == "done":
        host.call("file_copy", {"sources": [pair[1] for pair in saved], "destinations": [pair[0] for pair in saved]})
    host.call("vm_import", {"path": before["config_path"]})


def _drop_saved_copies(journal, host):
    saved = journal.merged("config_save").get("copies") or []
    if saved:
        host.call("file_delete", {"paths": [pair[1] for pair in saved]})


def settle_restore(journal, host, storage, check_now=None):
    """Finish or undo the restore `journal` describes on `host` (the target host's client); what happened, as
    {"result": "finished"|"undone", "vm_registered", "vm_state", "cluster_group", "notes"}. Raises SmhvError when a part
    could not be done (the journal stays open then, for the next run)."""
    plan = journal.merged("plan")
    before, vm_id, states = plan["before"], plan["vm_id"], _states(journal)
    _settle_luns(journal, host, storage, plan, states, check_now)
    if states.get("committed") == "done":  # the restore ended; only its clean-up was left: the VM is not touched
        _drop_saved_copies(journal, host)
        return {"result": "finished", "vm_registered": True, "vm_state": None, "cluster_group": None, "vm_id": vm_id,
                "vm": plan["vm_name"], "host": plan["host"]}
    forward = _data_restored(plan, states) and "vm_remove" in states
    registered = _registered(host, vm_id)
    if not registered and ("vm_remove" in states or not before["registered"]):
        if forward:
            try:
                host.call("vm_import", plan["import_args"])
            except SmhvError:
                if not before["registered"]:
                    raise
                forward = False  # the backup's configuration does not import: the VM's own then
                _put_back_configuration(journal, host, before)
        elif before["registered"]:
            _put_back_configuration(journal, host, before)
        registered = _registered(host, vm_id)
    if registered and (plan["target_cluster"] if forward else before["clustered"]):
        host.call("cluster_vm_role_add", {"ids": [vm_id]})
    if registered and (plan["start"] if forward else before["state"] == "Running"):
        host.call("vm_start", {"ids": [vm_id]})
    _drop_saved_copies(journal, host)
    now = host.call("vm_inventory", {"ids": [vm_id], "require_all": False}).result["vms"]
    return {"result": "finished" if forward else "undone", "vm_registered": bool(now), "vm_state": now[0]["state"] if now else None,
            "cluster_group": now[0]["cluster_group"] if now else None, "vm_id": vm_id, "vm": plan["vm_name"], "host": plan["host"]}


def recover_restore(journal, context):
    """journal.recover() calls this for a restore whose run ended without closing its journal (killed, or its undo failed):
    `context` is a RecoveryContext (engines/restore/operation.py)."""
    if not journal.merged("plan"):  # killed before its first step: nothing was changed
        journal.close()
        return {"result": "nothing_to_do"}
    outcome = settle_restore(journal, context.host(journal.merged("plan")["host"]), context.storage)
    journal.close()
    return outcome


register_recovery("restore", recover_restore)
