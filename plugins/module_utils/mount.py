# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mount a backup's LUNs on a Hyper-V host for browsing and single-file restore, and unmount them (smhv_mount).

mounted     per LUN of the backup (or of one VM in it): a LUN clone `smhv_mount_<lun>_<backup>` from the
            backup's snapshot, mapped to the host's igroup, connected with a new disk id at
            `<mount_root>\\<backup>\\<lun>\\`. A clone that is already there is reused, so a second run changes nothing.
unmounted   each such clone disconnected (access path removed, disk offline), deleted with its maps, the host
            rescanned and the empty mount folder removed. A mounted backup keeps its snapshot busy until then.
"""

from __future__ import annotations

import re
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_names import parse_backup_name

MOUNT_ROOT = "C:\\SMHV\\Mounts"
CLONE_PREFIX = "smhv_mount_"
STATES = ("mounted", "unmounted")


def clone_name(lun_path, backup):
    return CLONE_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", "%s_%s" % (lun_path.rsplit("/", 1)[-1], backup))


def find_backup(catalog, scope_name, backup):
    parsed = parse_backup_name(backup)
    record = catalog.get_backup(parsed[0], backup) if parsed else None
    if record is None or record.status != "ok":
        raise SmhvError("BACKUP_NOT_FOUND", "Scope %s has no good backup %s in its catalog (smhv_backup_info lists them)."
                        % (scope_name, backup), {"backup": backup})
    return record


class MountEngine:
    """Mount or unmount the LUNs of one backup on the scope's owner host."""

    def __init__(self, session, storage, catalog, mount_root=MOUNT_ROOT, monotonic=time.monotonic):
        self.session = session
        self.monotonic = monotonic
        self.host = session.owner
        self.storage = storage
        self.catalog = catalog
        self.mount_root = mount_root.rstrip("\\")
        self.actions = []
        self.changed = False

    def run(self, backup, vm=None, state="mounted", check_mode=False):
        if state not in STATES:
            raise SmhvError("INVALID_ARGUMENT", "state must be one of %s." % ", ".join(STATES))
        started = self.monotonic()
        self.record = find_backup(self.catalog, self.session.name, backup)
        plans = self._plans(vm)
        planned = self.monotonic()
        for plan in plans:
            if state == "mounted":
                self._mount(plan, check_mode)
            else:
                self._unmount(plan, check_mode)
        if state == "unmounted" and self.changed and not check_mode:
            self.host.call("disk_rescan")
            self._remove_folders([plan["access_path"] for plan in plans if plan["clone_serial"]])
        done = self.monotonic()
        mounts = [{key: value for key, value in plan.items() if key not in ("lun_ref", "existing")} for plan in plans]
        steps = [{"step": "plan", "seconds": round(planned - started, 3)}, {"step": state[:-2], "seconds": round(done - planned, 3)}]
        timings = {"total": round(done - started, 3), "steps": steps}
        return {"changed": self.changed, "backup": self.record.name, "state": state, "host": self.host.name, "mounts": mounts,
                "actions": self.actions, "timings": timings}

    def _plans(self, vm):
        vms = [v for v in self.record.vms if v.outcome != "skipped"]
        if vm:
            vms = [v for v in vms if v.vm_id == vm.lower() or v.name.lower() == vm.lower()]
            if not vms:
                raise SmhvError("VM_NOT_FOUND", "Backup %s holds no VM %s." % (self.record.name, vm), {"backup": self.record.name, "vm": vm})
        by_serial = {}
        for backed in vms:
            for entry in backed.files:
                by_serial.setdefault(entry.lun_serial, []).append(entry)
        luns = self.storage.find_luns_by_serials(sorted(by_serial))
        plans = []
        for serial, entries in sorted(by_serial.items()):
            lun = luns.get(serial)
            if lun is None:
                raise SmhvError("LUN_NOT_FOUND", "The LUN (serial %s) that held %s at backup %s is gone; a clone of it cannot be made."
                                % (serial, entries[0].path, self.record.name), {"serial": serial})
            name = clone_name(lun.path, self.record.name)
            access = "%s\\%s\\%s\\" % (self.mount_root, self.record.name, lun.path.rsplit("/", 1)[-1])
            plans.append({"lun": "%s:%s" % (lun.cluster, lun.path), "snapshot": entries[0].snapshots[-1], "clone": "/vol/%s/%s"
                          % (lun.volume_name, name), "clone_serial": None, "access_path": access,
                          "files": sorted(set(entry.path for entry in entries)), "lun_ref": lun,
                          "existing": self.storage.san.find_lun(lun.cluster, lun.svm, "/vol/%s/%s" % (lun.volume_name, name))})
        return plans

    def _snapshot(self, plan):
        lun = plan["lun_ref"]
        volume = self.storage.get_volume(lun.cluster, lun.svm, lun.volume_name)
        found = [s for s in self.storage.list_snapshots(volume) if s.name == plan["snapshot"]]
        if not found:
            raise SmhvError("SNAPSHOT_NOT_FOUND", "Snapshot %s of backup %s is gone from volume %s on %s." % (
                plan["snapshot"], self.record.name, volume.name, lun.cluster), {"snapshot": plan["snapshot"], "volume": volume.name})
        return found[0]

    def _igroup(self, lun):
        initiators = [port["node_address"] for port in self.session.facts["initiator_ports"]]
        if not initiators:
            raise SmhvError("HOST_NOT_READY", "Host %s reports no iSCSI or FC initiator; a LUN clone cannot be presented to it."
                            % self.host.name, {"host": self.host.name})
        return self.storage.san.ensure_igroup(lun.cluster, lun.svm, "smhv_%s" % self.session.name, initiators)

    def _mount(self, plan, check_mode):
        clone = plan["existing"]
        if clone is None:
            self.actions.append("clone LUN %s from snapshot %s as %s" % (plan["lun"], plan["snapshot"], plan["clone"]))
            self.changed = True
            if check_mode:
                return
            clone = self.storage.san.clone_lun(self._snapshot(plan), plan["lun_ref"], plan["clone"].rsplit("/", 1)[-1])
            created = True
        else:
            created = False
        plan["clone_serial"] = clone.serial
        try:
            if check_mode:
                self.actions.append("connect clone %s at %s (if not yet)" % (plan["clone"], plan["access_path"]))
                return
            mapping = self.storage.san.map_lun(clone, self._igroup(plan["lun_ref"]))
            reply = self.host.call("disk_connect", {"serial": clone.serial, "access_path": plan["access_path"]})
            if mapping.created or reply.changed:
                self.changed = True
                self.actions.append("connect clone %s at %s on %s" % (plan["clone"], plan["access_path"], self.host.name))
        except SmhvError:
            if created:  # this run's clone goes again; one found from an earlier run stays for unmount
                self.host.call("disk_disconnect", {"serial": clone.serial})
                self.storage.san.delete_lun(clone, allow_mapped=True)
            raise

    def _unmount(self, plan, check_mode):
        clone = plan["existing"]
        if clone is None:
            return
        plan["clone_serial"] = clone.serial
        self.changed = True
        self.actions.append("disconnect and delete clone %s (mounted at %s)" % (plan["clone"], plan["access_path"]))
        if check_mode:
            return
        self.host.call("disk_disconnect", {"serial": clone.serial})
        self.storage.san.delete_lun(clone, allow_mapped=True)

    def _remove_folders(self, access_paths):
        """The unmounted LUNs' folders, then <mount_root>\\<backup> unless another LUN of the backup is still mounted
        in it, in one call. Not recursive: a folder is empty once its clone is disconnected, and one that is not must
        keep its content (the agent deletes the paths in order and stops at the first that is not empty)."""
        backup_folder = "%s\\%s" % (self.mount_root, self.record.name)
        try:
            self.host.call("file_delete", {"paths": [path.rstrip("\\") for path in access_paths] + [backup_folder]})
        except SmhvError as error:
            if error.code != "DIRECTORY_NOT_EMPTY" or error.details.get("path") != backup_folder:
                raise
