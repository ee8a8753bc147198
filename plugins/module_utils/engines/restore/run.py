# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore one VM from a backup in its catalog (smhv_restore): the run, each side effect journaled.

Steps:
    backup      which VM (engines/restore/resolve.py: exact name or id) and the backup record
    lease       the VM's lease `vm~<id>` (two restores or mounts of one VM never interleave), then the recovery of what an
                interrupted run of it left (engines/restore/undo.py), then this run's journal
    inventory   the VM as the host has it now; plan: per LUN, LUN-level or file copy, SMHV's warnings (plan.py)
    stop        Stop-VM, the cluster role removed, the configuration saved beside itself, Remove-VM (disks stay)
    restore     LUN-level: disk offline, single-file SnapRestore of the LUN, disk online at its access path; file copy:
                clone `smhv_restore_<operation>_<lun>`, mapped to the host's igroup, connected, files copied, clone dropped
    import      Import-VM -Register (same id); a checkpoint-method backup's checkpoint is applied and removed
    cluster     Add-ClusterVirtualMachineRole on a cluster
    start       Start-VM unless start=false
    post_script SMHV's restore post-script

Before each side effect its intent is in the journal, after it what it made. A failure from `stop` to `start` settles
the restore from the journal (undo.py): the VM back as it was (registered, its disks online, in its cluster role,
running if it was), or, once every LUN's data is restored, the restore finished; the error says which. Check mode
stops after plan, takes no lease and returns the same actions.
"""

from __future__ import annotations

import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import CHECKPOINT_PREFIX
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import Script, script_variables
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.operation import DEFAULT_TTL, LeasedOperation, RecoveryContext
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.plan import RestorePlanning, _under
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.resolve import find_backup, resolve_vm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.undo import drop_clone, settle_restore
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup, igroup_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import path_pairs

MOUNT_ROOT = "C:\\SMHV\\Mounts"
CLONE_PREFIX = "smhv_restore_"
UNDO_PREFIX = "smhv_undo_"  # the VM's configuration saved beside itself before Remove-VM, until the restore ends
_INTERNAL = ("lun_ref", "snapshot_ref", "source_root")  # plan keys that are not returned


class RestoreEngine(RestorePlanning):
    """Restore `vm` (name or id) of a scope from a backup in `catalog`, in place or to `target` (another ScopeSession)."""

    def __init__(self, session, storage, catalog, clock=None, monotonic=time.monotonic, target=None, lease_ttl=DEFAULT_TTL):
        self.session = session
        self.host = session.owner
        # Where the VM goes: the scope's own host (in place), or another scope's owner host (alternate host).
        self.target_session = target or session
        self.target = self.target_session.owner
        self.target_facts = self.target_session.facts
        self.storage = storage
        self.catalog = catalog
        self.clock = clock or utcnow
        self.monotonic = monotonic
        self.lease_ttl = lease_ttl
        self.warnings = []  # need force
        self.notes = []  # for the user, need nothing
        self.actions = []
        self.steps = []
        self.luns = []
        self.extra_disks = []  # attached now, not at backup: the restored VM does not have them, their files stay
        self.operation = None
        self.recovered = []
        self.left_behind = []  # clean-up errors after the data is back (_end)

    @property
    def journal(self):
        return self.operation.journal

    # -- the run -----------------------------------------------------------------------------------
    def run(self, vm, backup=None, force=False, start=True, check_mode=False, path_map=None, post_script=None,
            verify_snapshot=True):
        started = self.monotonic()
        self.start = start
        self.verify = verify_snapshot
        self.post_script = Script.from_option(post_script)
        self.script = None
        self.path_map = path_pairs(path_map)
        self.alternate = self.target_session is not self.session or bool(self.path_map)
        self._step("backup", self._backup, vm, backup)
        if not check_mode:
            self._step("lease", self._lease)
        try:
            return self._run_planned(force, check_mode, started)
        except BaseException:
            if self.operation is not None and self.operation.journal is not None and not self.operation.keeper.lost:
                self.operation.release()  # interrupted (not an SmhvError): the journal stays for the next run to settle
            raise

    def _run_planned(self, force, check_mode, started):
        try:
            self._step("inventory", self._inventory)
            self._step("plan", self._plan)
        except SmhvError:
            if self.operation is not None:
                self.operation.finish()  # nothing was changed
            raise
        blocked = bool(self.warnings) and not force
        result = {"changed": not blocked, "backup": self.record.name, "dataset": self.record.dataset,
                  "backup_type": self.record.backup_type, "vm": {"id": self.vm_id, "name": self.vm_name},
                  "luns": self._lun_results(), "actions": self.actions, "restore_warnings": list(self.warnings), "notes": list(self.notes),
                  "force_required": bool(self.warnings), "target_host": self.target.name, "alternate": self.alternate,
                  "verify_snapshot": self.verify}
        if check_mode:
            result["notes"] += self._open_journals()
            result["timings"] = self._timings(started)
            return result
        if blocked:
            self.operation.finish()
            raise SmhvError("RESTORE_NEEDS_FORCE", "Restore of VM %s from backup %s stopped: %s Set force=true (the module's option; "
                            "-e smhv_force=true with the restore_vm.yml playbook) to restore anyway."
                            % (self.vm_name, self.record.name, " ".join(self.warnings)), {"warnings": list(self.warnings)})
        self.journal.done("plan", **self._journal_plan())
        if self.extra_disks:
            self.notes.append("Virtual disk(s) %s of VM %s were not in backup %s: the restored VM does not have them attached; "
                              "their files stay where they are." % (", ".join(self.extra_disks), self.vm_name, self.record.name))
        try:
            if self.current is not None:
                self._step("stop", self._stop)
            self._step("restore", self._restore)
            self._step("import", self._import)
            if self.target_session.kind == "cluster":
                self._step("cluster", self._cluster)
            if self.start:
                self._step("start", self._start)
        except SmhvError as error:
            raise self._settle(error) from None
        self._drop_saved_configuration()
        try:
            if self.post_script is not None:
                self._step("post_script", self._run_post_script)
        finally:
            self._end()
        if self.operation.close_error is not None:
            self.notes.append("The restore's journal %s could not be deleted (%s); the next restore or mount of VM %s closes it."
                              % (self.operation.id, self.operation.close_error.message, self.vm_name))
        result.update(vm=self.final, post_script=self.script, luns=self._lun_results(), notes=list(self.notes),
                      timings=self._timings(started), operation=self.operation.id)
        return result

    def _lun_results(self):
        return [{key: value for key, value in plan.items() if key not in _INTERNAL} for plan in self.luns]

    def _step(self, name, function, *args):
        began = self.monotonic()
        try:
            function(*args)
        except SmhvError as error:
            self.steps.append({"step": name, "seconds": round(self.monotonic() - began, 3), "state": "failed"})
            error.details.setdefault("step", name)
            error.details.setdefault("timings", {"steps": list(self.steps)})
            raise
        self.steps.append({"step": name, "seconds": round(self.monotonic() - began, 3), "state": "done"})

    def _timings(self, started):
        return {"total": round(self.monotonic() - started, 3), "steps": list(self.steps)}

    # -- backup, lease -----------------------------------------------------------------------------
    def _backup(self, vm, backup):
        self.vm_id = resolve_vm(self.host, self.catalog, vm, self.session.name)
        self.record = find_backup(self.catalog, self.session.name, self.vm_id, vm, backup)
        self.backed_up = next(v for v in self.record.vms if v.vm_id == self.vm_id and v.outcome != "skipped")
        self.vm_name = self.backed_up.name
        configs = [f.path for f in self.backed_up.files if f.kind == "config" and f.path.lower().endswith((".vmcx", ".xml"))]
        if not configs:
            raise SmhvError("CATALOG_CORRUPT", "Backup %s has no configuration file for VM %s." % (self.record.name, self.vm_name),
                            {"backup": self.record.name, "vm_id": self.vm_id})
        self.config_path = configs[0]

    def _lease(self):
        self.operation = LeasedOperation(self.session, self.catalog, "restore", "vm~%s" % self.vm_id, self.vm_id, ttl=self.lease_ttl,
                                         holder="smhv_restore of VM %s" % self.vm_id)
        context = RecoveryContext(self.session, self.storage, self.catalog, {self.target.name: self.target})
        self.recovered = self.operation.start(context)
        for outcome in self.recovered:
            self.notes.append("An interrupted %s (journal %s) of VM %s was %s first." % (
                outcome["operation"], outcome["journal"], outcome.get("vm") or outcome["subject"], outcome.get("result", "settled")))

    def _open_journals(self):
        """Check mode: the interrupted restores of this VM that a real run would settle first (one listing)."""
        try:
            found = [j.record for j in self.catalog.list_journals() if j.record.operation == "restore" and j.record.subject == self.vm_id]
        except SmhvError as error:
            return ["The journals of interrupted restores could not be listed (%s)." % error.message]
        return ["An interrupted restore of VM %s (journal %s, started %s) would be settled first: the VM put back as it was, or that "
                "restore finished." % (self.vm_name, journal.id, journal.started.isoformat()) for journal in found]

    def _journal_plan(self):
        before = {"registered": self.current is not None, "host": self.target.name}
        if self.current is not None:
            before.update(state=self.current["state"], clustered=bool(self.current["clustered"]),
                          cluster_group=self.current["cluster_group"], config_path=self.current["config_path"])
        else:
            before.update(state=None, clustered=False, cluster_group=None, config_path=None)
        before["disks"] = [{"serial": plan["serial"], "access_path": plan["access_path"]} for plan in self.luns]
        luns = [{"method": plan["method"], "lun": plan["lun"], "serial": plan["serial"], "access_path": plan["access_path"]}
                for plan in self.luns]
        return {"host": self.target.name, "vm_id": self.vm_id, "vm_name": self.vm_name, "backup": self.record.name,
                "before": before, "luns": luns, "import_args": self._import_args(), "start": self.start,
                "target_cluster": self.target_session.kind == "cluster"}

    def _settle(self, error):
        """After a failure from `stop` on: settle from the journal (undo.py) and say in the error what the VM is now."""
        try:
            outcome = settle_restore(self.journal, self.target, self.storage, self.operation.keeper.check_now)
        except SmhvError as undo_error:
            self.operation.keep_open(undo_error)
            error.message += (" Putting VM %s (%s) back failed too (%s); journal %s stays open, and the next restore or mount of "
                              "this VM, or netapp_hyperv.smhv.smhv_cleanup, settles it." % (
                                  self.vm_name, self.vm_id, undo_error.message, self.operation.id))
            error.details.update(undo={"error": {"code": undo_error.code, "message": undo_error.message}, "journal": self.operation.id})
            return error
        self.operation.finish()
        state = "%s%s" % (outcome["vm_state"], ", in cluster role %s" % outcome["cluster_group"] if outcome["cluster_group"] else "")
        if outcome["result"] == "undone":
            error.message += (" VM %s (%s) is back as it was before the restore: registered on %s (%s), its disks online; files "
                              "already copied from the backup stay. Run the restore again once the cause is fixed." % (
                                  self.vm_name, self.vm_id, self.target.name, state) if outcome["vm_registered"] else
                              " VM %s (%s) was not registered on %s before the restore and is not now; its disks are online, the "
                              "clones gone. Run the restore again once the cause is fixed." % (self.vm_name, self.vm_id, self.target.name))
        else:
            error.message += (" The backup's data was already restored, so the restore was finished: VM %s (%s) is registered on "
                              "%s (%s)." % (self.vm_name, self.vm_id, self.target.name, state))
        error.details.update(vm_registered=outcome["vm_registered"], undo=outcome)
        return error

    # -- changes -----------------------------------------------------------------------------------
    def _stop(self):
        ids = {"ids": [self.vm_id]}
        if self.current["state"] != "Off":
            self.journal.effect("vm_stop", lambda: self._call("vm_stop", ids), state=self.current["state"])
        if self.current["clustered"]:
            self.journal.effect("cluster_role_remove", lambda: self._call("cluster_vm_role_remove", ids),
                                group=self.current["cluster_group"])
        self._save_configuration()
        self.journal.effect("vm_remove", lambda: self._call("vm_remove", ids))

    def _save_configuration(self):
        """Remove-VM deletes the VM's configuration files; a copy of each beside itself lets an undo register it again."""
        configs = [f["path"] for f in self.current["files"] if f["kind"] == "config"]
        if not configs:
            return
        copies = [[path, "%s\\%s%s_%s" % (path.rpartition("\\")[0], UNDO_PREFIX, self.operation.short, path.rpartition("\\")[2])]
                  for path in configs]
        request = {"sources": [pair[0] for pair in copies], "destinations": [pair[1] for pair in copies]}
        self.journal.effect("config_save", lambda: self._call("file_copy", request), copies=copies)

    def _end(self):
        """The restore is done. What it could not clean up (a clone, the saved configuration) keeps its journal open,
        marked `committed`: the next restore or mount of the VM, or smhv_cleanup, removes it and touches nothing else."""
        if not self.left_behind:
            self.operation.finish()
            return
        try:
            self.journal.done("committed")
        except SmhvError:
            pass  # then the next run finishes the restore again: the VM registered, started as asked, the clone dropped
        self.operation.keep_open(self.left_behind[0])
        self.notes.append("Journal %s stays open until what the restore could not clean up is removed, by the next restore or mount "
                          "of VM %s or by netapp_hyperv.smhv.smhv_cleanup." % (self.operation.id, self.vm_name))

    def _drop_saved_configuration(self):
        copies = self.journal.merged("config_save").get("copies") if self.current is not None else None
        if copies:
            try:
                self.target.call("file_delete", {"paths": [pair[1] for pair in copies]})
            except SmhvError as error:
                self.left_behind.append(error)
                self.notes.append("The copy of VM %s's configuration saved before the restore was not deleted (%s): %s."
                                  % (self.vm_name, error.message, ", ".join(pair[1] for pair in copies)))

    def _restore(self):
        for index, plan in enumerate(self.luns):
            if plan["method"] == "lun":
                self._restore_lun(index, plan)
            else:
                self._copy_from_clone(index, plan)

    def _restore_lun(self, index, plan):
        lun, snapshot = plan["lun_ref"], plan["snapshot_ref"]
        disk = {"serial": lun.serial, "access_path": plan["access_path"]}
        self.journal.effect("disk_disconnect:%d" % index, lambda: self._call("disk_disconnect", {"serial": lun.serial}), **disk)
        self.journal.effect("snaprestore:%d" % index, lambda: self._snaprestore(snapshot, lun),
                            lun=plan["lun"], snapshot=plan["snapshot"])
        self.journal.effect("disk_connect:%d" % index, lambda: self._call("disk_connect", disk), **disk)
        plan["restored"] = True

    def _copy_from_clone(self, index, plan):
        lun = plan["lun_ref"]
        name = "%s%s_%s" % (CLONE_PREFIX, self.operation.short, lun.path.rsplit("/", 1)[-1])
        mount = "%s\\%s\\" % (MOUNT_ROOT, name)
        where = {"cluster": lun.cluster, "svm": lun.svm, "volume": lun.volume_name, "path": "/vol/%s/%s" % (lun.volume_name, name),
                 "mount": mount}
        where.update(igroup=igroup_name(self.target_facts["computer_name"]), access_path=mount)
        # one journal step for the clone, its map and its disk (the intent names all three; the undo drops the clone)
        made = self.journal.effect("clone:%d" % index, lambda: self._present(self._clone(plan, name), lun, mount), **where)
        sources, destinations = [], []
        for path in self._clone_files(plan, mount):
            sources.append(mount + _under(path, plan["source_root"]))
            destinations.append(self._mapped(path))
        copied = self.journal.effect("copy:%d" % index, lambda: {"copied": [item["destination"] for item in self.target.call(
            "file_copy", {"sources": sources, "destinations": destinations}).result["copied"]]}, count=len(sources))
        plan["copied"] = copied["copied"]
        try:
            drop_clone(self.target, self.storage, dict(where, **made), self.operation.keeper.check_now)
            self.journal.done("clone_drop:%d" % index)  # no intent: dropping is idempotent, and the clone is in the journal
        except SmhvError as error:  # the data is back: a clone left is a note, and the journal stays for the next run (_end)
            self.left_behind.append(error)
            self.notes.append("Clean-up left clone %s:%s (or its disk or mount folder %s) behind: %s."
                              % (lun.cluster, where["path"], mount, error.message))

    def _snaprestore(self, snapshot, lun):
        self.storage.restore_file(snapshot, lun.path[len("/vol/%s" % lun.volume_name):])

    def _call(self, op, args):
        self.target.call(op, args)

    def _clone(self, plan, name):
        return self.storage.san.clone_lun(plan["snapshot_ref"], plan["lun_ref"], name)

    def _present(self, clone, lun, mount):
        """Map a new clone to the target host's igroup and connect it at `mount`: what was made, for the journal."""
        igroup = host_igroup(self.storage, lun, self.target_facts)
        mapping = self.storage.san.map_lun(clone, igroup)
        self.target.call("disk_connect", {"serial": clone.serial, "access_path": mount})
        return {"serial": clone.serial, "lun_uuid": clone.lun_uuid, "igroup": getattr(igroup, "name", str(igroup)),
                "lun_id": getattr(mapping, "lun_id", None), "access_path": mount}

    def _clone_files(self, plan, mount):
        """The backup's files on this LUN, plus what a checkpoint-method backup's snapshot holds beside them: the
        checkpoint's differencing disks next to each virtual disk, and the checkpoint configurations."""
        paths = list(plan["files"])
        if self.record.method != "checkpoint":
            return paths
        folders = {}
        for path in plan["files"]:
            folder, name = path.rpartition("\\")[::2]
            if path.lower().endswith((".vhdx", ".vhd")):
                folders.setdefault(folder, []).append(name.rsplit(".", 1)[0] + "_*.avhdx")
            elif path.lower().endswith(".vmcx"):
                location = self.backed_up.snapshot_location or folder.rpartition("\\")[0]
                folders.setdefault(location.rstrip("\\") + "\\Snapshots", []).append("*")
        for folder, patterns in folders.items():
            relative = _under(folder + "\\", plan["source_root"])
            if relative is None:
                continue
            for pattern in patterns:
                listing = self.target.call("file_list", {"path": mount + relative.rstrip("\\"), "filter": pattern}).result["entries"]
                paths += [folder + "\\" + item["name"] for item in listing if not item["is_directory"]]
        return list(dict.fromkeys(paths))

    def _import_args(self):
        args = {"path": self._mapped(self.config_path)}
        if self.record.method == "checkpoint":
            args["discard_checkpoint"] = CHECKPOINT_PREFIX + self.record.name
        if self.path_map:
            args["map_from"] = [pair[0] for pair in self.path_map]
            args["map_to"] = [pair[1] for pair in self.path_map]
        return args

    def _import(self):
        reply = self.journal.effect("vm_import", lambda: self.target.call("vm_import", self._import_args()).result, path=self._mapped(self.config_path))
        self.final = {"id": reply["vm_id"], "name": reply["name"], "state": reply["state"]}

    def _cluster(self):
        reply = self.journal.effect("cluster_role_add", lambda: self.target.call("cluster_vm_role_add", {"ids": [self.vm_id]}).result)
        self.final["cluster_group"] = reply["added"][0]["group"] if reply["added"] else None

    def _start(self):
        reply = self.journal.effect("vm_start", lambda: self.target.call("vm_start", {"ids": [self.vm_id]}).result)
        self.final["state"] = reply["vms"][0]["state"] if reply["vms"] else self.final["state"]

    def _run_post_script(self):
        """SMHV's restore post-script, on the host the VM was restored to, with $VMSnapshot (the backup's name),
        $SnapInfoName and $SnapInfoSnapshot as arguments and environment variables."""
        variables = script_variables(self.record.name, self.record.time, self.record.snapinfo_snapshot or "")
        reply = self.target.call("run_script", {"path": self.post_script.path, "arguments": self.post_script.arguments_for(variables),
                                                "environment": variables, "timeout_seconds": self.post_script.timeout}).result
        self.script = {"host": self.target.name, "path": self.post_script.path, "exit_code": reply["exit_code"],
                       "stdout": reply["stdout"], "stderr": reply["stderr"]}
        if reply["exit_code"] != 0:
            raise SmhvError("SCRIPT_FAILED", "VM %s is restored, but the post-script %s ended with exit code %d on %s: %s" % (
                self.vm_name, self.post_script.path, reply["exit_code"], self.target.name, (reply["stderr"] or reply["stdout"]).strip()[-300:]),
                {"script": self.script})


__all__ = ["RestoreEngine", "MOUNT_ROOT", "CLONE_PREFIX"]
