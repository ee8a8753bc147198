# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mount a backup's LUNs on a Hyper-V host for browsing and single-file restore, and unmount them (smhv_mount).

mounted     under the lease `mount~<backup>~<host>` and a journal (operation "mount"): per LUN of the backup (or of one VM
            in it) the clone the mount record names, else a new LUN clone `smhv_mount_<lun>_<operation>` from the backup's
            snapshot, mapped to the host's igroup (`smhv_<host>`, as a restore's clones), connected with a new disk id at
            `<mount_root>\\<backup>\\<lun>\\` (access=folder) or at a drive letter (the ones asked for, else a free one).
            The mount record (engines/mount/record.py) then names the clones: a second run changes nothing and returns
            the same paths, and smhv_cleanup knows they are owned. A failure drops every clone this run made.
unmounted   (operation "unmount") each recorded clone disconnected (every access path removed, disk offline), deleted
            with its maps, its record entry removed; then the host rescanned and the empty mount folders removed.
A run killed half way is settled by the next mount or unmount of that backup on that host (engines/mount/undo.py).
"""

from __future__ import annotations

import re
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.plan import (
    ACCESS, MOUNT_ROOT, STATES, MountPlanning, drive_letters_option, find_backup, mounted_path, _key)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.record import MountRecord
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.undo import drop_mount_clones
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.operation import DEFAULT_TTL, LeasedOperation, RecoveryContext
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup, igroup_name


class MountEngine(MountPlanning):
    """Mount or unmount the LUNs of one backup on the scope's owner host."""

    def __init__(self, session, storage, catalog, mount_root=MOUNT_ROOT, monotonic=time.monotonic, lease_ttl=DEFAULT_TTL):
        self.session = session
        self.monotonic = monotonic
        self.host = session.owner
        self.host_name = session.facts["computer_name"].lower()  # the owner node, also when reached by the cluster's name
        self.storage = storage
        self.catalog = catalog
        self.mount_root = mount_root.rstrip("\\")
        self.lease_ttl = lease_ttl
        self.actions = []
        self.warnings = []
        self.changed = False
        self.operation = None
        self.mounted = None

    def run(self, backup, vm=None, state="mounted", check_mode=False, access="folder", drive_letters=None):
        if state not in STATES:
            raise SmhvError("INVALID_ARGUMENT", "state must be one of %s." % ", ".join(STATES))
        if access not in ACCESS:
            raise SmhvError("INVALID_ARGUMENT", "access must be one of %s." % ", ".join(ACCESS))
        letters = drive_letters_option(drive_letters)
        if letters and access != "drive_letter":
            raise SmhvError("INVALID_ARGUMENT", "drive_letters needs access=drive_letter.", {"drive_letters": letters})
        self.access, self.state = access, state
        started = self.monotonic()
        self.record = find_backup(self.catalog, self.session.name, backup)
        self.operation = LeasedOperation(self.session, self.catalog, "mount" if state == "mounted" else "unmount",
                                         "mount~%s~%s" % (self.record.name, self.host_name), "%s on %s" % (self.record.name, self.host_name),
                                         ttl=self.lease_ttl, holder="smhv_mount %s of %s on %s" % (state, self.record.name, self.host_name))
        if check_mode:
            return self._run(vm, letters, check_mode, started)
        recovered = self.operation.start(RecoveryContext(self.session, self.storage, self.catalog))
        try:
            result = self._run(vm, letters, check_mode, started)
        except SmhvError as error:
            self._settle(error)
            raise
        except BaseException:
            self.operation.release()  # interrupted: the journal stays for the next run to settle
            raise
        self.operation.finish()
        if self.operation.close_error is not None:
            result.setdefault("warnings", []).append("The journal %s could not be deleted (%s); the next run for backup %s on %s closes it."
                                                     % (self.operation.id, self.operation.close_error.message, self.record.name,
                                                        self.host_name))
        if recovered:
            result["recovered"] = recovered
        return result

    def _run(self, vm, letters, check_mode, started):
        self.mounted = MountRecord(self.catalog, self.record.name, self.host_name)
        plans = self._plans(vm)
        if self.state == "mounted":
            self._assign_letters(plans, letters)
            self._volume_roots(plans)
        planned = self.monotonic()
        try:
            for index, plan in enumerate(plans):
                if self.state == "mounted":
                    self._mount(index, plan, check_mode)
                else:
                    self._unmount(index, plan, check_mode)
        except SmhvError:
            if self.state == "unmounted" and not check_mode:  # the clones deleted so far leave the record
                try:
                    self._record(plans)
                except SmhvError:
                    pass  # the next unmount finds them gone
            raise
        if not check_mode:
            self._record(plans)
        if self.state == "mounted" and not check_mode:
            self._find_unknown_roots(plans)
        if self.state == "unmounted" and self.changed and not check_mode:
            self.host.call("disk_rescan")
            self._remove_folders(plans)
        done = self.monotonic()
        mounts = [self._mount_result(plan, self.state) for plan in plans]
        steps = [{"step": "plan", "seconds": round(planned - started, 3)},
                 {"step": self.state[:-2], "seconds": round(done - planned, 3)}]
        result = {"changed": self.changed, "backup": self.record.name, "state": self.state, "host": self.host_name, "mounts": mounts,
                  "actions": self.actions, "timings": {"total": round(done - started, 3), "steps": steps}}
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def _settle(self, error):
        """A mount that failed drops the clones it made (from its journal); the journal stays open when that failed too.
        An unmount that failed keeps its journal open: the next run for this backup and host (or smhv_cleanup) finishes
        it - the clones its journal names deleted, the record updated, the empty folders removed."""
        if self.state == "unmounted":
            self.operation.keep_open(error)
            error.message += (" The unmount is finished by the next mount or unmount of backup %s on %s, or by "
                              "netapp_hyperv.smhv.smhv_cleanup (journal %s)." % (self.record.name, self.host_name, self.operation.id))
            return
        try:
            drop_mount_clones(self.operation.journal, self.host, self.storage, self.operation.keeper.check_now)
        except SmhvError as undo_error:
            self.operation.keep_open(undo_error)
            error.message += (" Removing the clones this run made failed too (%s); journal %s stays open and the next mount or unmount "
                              "of backup %s on %s, or netapp_hyperv.smhv.smhv_cleanup, removes them."
                              % (undo_error.message, self.operation.id, self.record.name, self.host_name))
            return
        self.operation.finish()

    def _mount_result(self, plan, state):
        files = []
        for path in plan["files"]:
            mounted = None
            if state == "mounted":
                mounted = mounted_path(path, plan["roots"].get(_key(path)), plan["access_path"])
            files.append({"backed_up": path, "mounted": mounted})
        return {"lun": plan["lun"], "snapshot": plan["snapshot"], "clone": plan["clone"], "clone_serial": plan["clone_serial"],
                "access_path": plan["access_path"], "files": files}

    def _where(self, plan):
        return plan["access_path"] or "a free drive letter"

    def _mount(self, index, plan, check_mode):
        clone = plan["existing"]
        if clone is None:
            self.actions.append("clone LUN %s from snapshot %s as %s" % (plan["lun"], plan["snapshot"], plan["clone"]))
            self.changed = True
            if check_mode:
                return
        elif check_mode:
            plan["clone_serial"] = clone.serial
            self.actions.append("connect clone %s at %s (if not yet)" % (plan["clone"], self._where(plan)))
            return
        if clone is None:  # one journal step for the clone, its map and its disk: the undo of all three is to drop the clone
            lun = plan["lun_ref"]
            where = {"cluster": lun.cluster, "svm": lun.svm, "volume": lun.volume_name, "path": plan["clone"],
                     "mount": plan["folder"] if self.access == "folder" else None, "igroup": igroup_name(self.host_name),
                     "access_path": plan["access_path"]}
            made = self.operation.journal.effect("clone:%d" % index, lambda: self._present(self._clone(plan), plan), **where)
        else:
            made = self._present(clone, plan)
        plan["clone_serial"] = made["serial"]
        if plan["access_path"] is None:
            plan["access_path"] = made["access_path"]
        if made["changed"]:
            self.changed = True
            self.actions.append("connect clone %s at %s on %s" % (plan["clone"], self._where(plan), self.host_name))

    def _clone(self, plan):
        return self.storage.san.clone_lun(self._snapshot(plan), plan["lun_ref"], plan["clone"].rsplit("/", 1)[-1])

    def _present(self, clone, plan):
        """Map the clone to the host's igroup and connect it (both idempotent): what was made, for the journal."""
        igroup = host_igroup(self.storage, plan["lun_ref"], self.session.facts)
        mapping = self.storage.san.map_lun(clone, igroup)
        args = {"serial": clone.serial}
        if plan["access_path"]:
            args["access_path"] = plan["access_path"]
        else:
            args["assign_drive_letter"] = True
        connected = self._connect(args)
        return {"serial": clone.serial, "lun_uuid": clone.lun_uuid, "lun_id": getattr(mapping, "lun_id", None),
                "igroup": getattr(igroup, "name", str(igroup)), "access_path": connected["access_path"],
                "changed": bool(mapping.created or connected["changed"])}

    def _connect(self, args):
        """disk_connect; the access path it got when a free drive letter was asked for."""
        reply = self.host.call("disk_connect", args)
        letters = [path for path in reply.result["disk"]["access_paths"] if re.match(r"^[A-Za-z]:\\$", path)]
        return {"changed": reply.changed, "access_path": args.get("access_path") or (letters[0] if letters else None)}

    def _record(self, plans):
        """The mount record after this run: a mount adds its clones (the commit point: from here they are owned), an
        unmount drops the ones it deleted. Fenced by the lease."""
        before = dict(self.mounted.luns)
        for plan in plans:
            lun = plan["lun_ref"]
            if self.state == "mounted" and plan["clone_serial"]:
                self.mounted.luns[lun.serial] = {"clone": plan["clone"], "cluster": lun.cluster, "svm": lun.svm,
                                                 "clone_serial": plan["clone_serial"], "access_path": plan["access_path"],
                                                 "lun": plan["lun"], "operation": self.mounted.luns.get(lun.serial, {}).get(
                                                     "operation", self.operation.id)}
            elif self.state == "unmounted" and plan.get("deleted"):
                self.mounted.luns.pop(lun.serial, None)
        if self.mounted.luns != before:
            self.mounted.save(fence=self.operation.keeper.fence())

    def _unmount(self, index, plan, check_mode):
        clone = plan["existing"]
        if clone is None:
            return
        plan["clone_serial"] = clone.serial
        self.changed = True
        if check_mode:
            self.actions.append("disconnect and delete clone %s" % plan["clone"])
            return
        lun = plan["lun_ref"]
        where = {"cluster": lun.cluster, "svm": lun.svm, "path": plan["clone"], "serial": clone.serial, "lun_serial": lun.serial,
                 "mount": plan["folder"]}
        removed = self.operation.journal.effect("disconnect:%d" % index, lambda: {"removed": self.host.call(
            "disk_disconnect", {"serial": clone.serial}).result.get("removed_access_paths") or []}, **where)["removed"]
        plan["removed"] = removed
        plan["access_path"] = removed[0] if removed else None
        self.actions.append("disconnect and delete clone %s%s" % (plan["clone"], " (mounted at %s)" % ", ".join(removed) if removed else ""))
        self.operation.keeper.check_now()
        self.operation.journal.effect("delete:%d" % index, lambda: self.storage.san.delete_lun(clone, allow_mapped=True) and None, **where)
        plan["deleted"] = True

    def _remove_folders(self, plans):
        """The unmounted LUNs' folders (the mount folder and any other folder the clone was connected at; a drive letter
        has none), then <mount_root>\\<backup> unless another LUN of the backup is still mounted in it, in one call. Not
        recursive: a folder is empty once its clone is disconnected, and one that is not must keep its content (the agent
        deletes the paths in order and stops at the first that is not empty). Missing folders are fine."""
        backup_folder = "%s\\%s" % (self.mount_root, self.record.name)
        paths = []
        for plan in plans:
            if plan["clone_serial"] is None:
                continue
            for path in [p for p in plan.get("removed", []) if len(p.rstrip("\\")) > 2] + [plan["folder"]]:
                if _key(path) not in [_key(p) for p in paths]:
                    paths.append(path.rstrip("\\"))
        try:
            self.host.call("file_delete", {"paths": paths + [backup_folder]})
        except SmhvError as error:
            if error.code != "DIRECTORY_NOT_EMPTY" or error.details.get("path") != backup_folder:
                raise
