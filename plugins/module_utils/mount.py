# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mount a backup's LUNs on a Hyper-V host for browsing and single-file restore, and unmount them (smhv_mount).

mounted     per LUN of the backup (or of one VM in it): a LUN clone `smhv_mount_<lun>_<backup>` from the
            backup's snapshot, mapped to the host's igroup (`smhv_<host>`, as a restore's clones), connected with a new
            disk id at `<mount_root>\\<backup>\\<lun>\\` (access=folder) or at a drive letter (access=drive_letter: the
            ones asked for, else a free one Windows picks). A clone that is already there is reused, so a second run
            changes nothing and returns the same paths. Each backed-up file's path in the mount is its path below its
            volume root at backup, under the clone's access path (MountEngine._volume_roots).
unmounted   each such clone disconnected (every access path removed, disk offline), deleted with its maps, the host
            rescanned and the empty mount folders removed. A mounted backup keeps its snapshot busy until then.
"""

from __future__ import annotations

import re
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.igroups import host_igroup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_names import parse_backup_name

MOUNT_ROOT = "C:\\SMHV\\Mounts"
CLONE_PREFIX = "smhv_mount_"
STATES = ("mounted", "unmounted")
ACCESS = ("folder", "drive_letter")
_LETTER = re.compile(r"^([A-Za-z])(:\\?)?$")


def clone_name(lun_path, backup):
    return CLONE_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", "%s_%s" % (lun_path.rsplit("/", 1)[-1], backup))


def find_backup(catalog, scope_name, backup):
    parsed = parse_backup_name(backup)
    record = catalog.get_backup(parsed[0], backup) if parsed else None
    if record is None or record.status != "ok":
        raise SmhvError("BACKUP_NOT_FOUND", "Scope %s has no good backup %s in its catalog (smhv_backup_info lists them)."
                        % (scope_name, backup), {"backup": backup})
    return record


def drive_letters_option(letters):
    """The drive letters asked for ('K', 'k:', 'K:\\'), as upper-case letters; duplicates are refused."""
    found = []
    for letter in letters or ():
        match = _LETTER.match(str(letter).strip())
        if match is None:
            raise SmhvError("INVALID_ARGUMENT", "drive_letters: %r is not a drive letter (K, K: or K:\\)." % (letter,),
                            {"drive_letter": letter})
        found.append(match.group(1).upper())
    doubled = sorted(set(letter for letter in found if found.count(letter) > 1))
    if doubled:
        raise SmhvError("INVALID_ARGUMENT", "drive_letters names %s more than once." % ", ".join(doubled), {"drive_letters": found})
    return found


def ancestors(path):
    """The folders holding `path`, shallowest first: 'J:\\a\\b.vhdx' -> ['J:\\', 'J:\\a\\']."""
    parts = path.split("\\")
    return ["\\".join(parts[:depth]) + "\\" for depth in range(1, len(parts))]


def mounted_path(path, volume_root, access_path):
    """Where the backed-up `path`, on the volume mounted at `volume_root` at backup time ('J:\\',
    'C:\\ClusterStorage\\Volume1\\' or a folder such as 'J:\\Mounts\\data\\'), is in a clone of that volume connected at
    `access_path` ('E:\\' or a mount folder): the same path below the root. None when either is unknown."""
    if not volume_root or not access_path:
        return None
    root = volume_root if volume_root.endswith("\\") else volume_root + "\\"
    if not path.lower().startswith(root.lower()):
        return None
    return (access_path if access_path.endswith("\\") else access_path + "\\") + path[len(root):]


def _key(path):
    return path.lower().rstrip("\\")


class MountEngine:
    """Mount or unmount the LUNs of one backup on the scope's owner host."""

    def __init__(self, session, storage, catalog, mount_root=MOUNT_ROOT, monotonic=time.monotonic):
        self.session = session
        self.monotonic = monotonic
        self.host = session.owner
        self.host_name = session.facts["computer_name"].lower()  # the owner node, also when reached by the cluster's name
        self.storage = storage
        self.catalog = catalog
        self.mount_root = mount_root.rstrip("\\")
        self.actions = []
        self.warnings = []
        self.changed = False

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
        plans = self._plans(vm)
        if state == "mounted":
            self._assign_letters(plans, letters)
            self._volume_roots(plans)
        planned = self.monotonic()
        for plan in plans:
            if state == "mounted":
                self._mount(plan, check_mode)
            else:
                self._unmount(plan, check_mode)
        if state == "mounted" and not check_mode:
            self._find_unknown_roots(plans)
        if state == "unmounted" and self.changed and not check_mode:
            self.host.call("disk_rescan")
            self._remove_folders(plans)
        done = self.monotonic()
        mounts = [self._mount_result(plan, state) for plan in plans]
        steps = [{"step": "plan", "seconds": round(planned - started, 3)}, {"step": state[:-2], "seconds": round(done - planned, 3)}]
        timings = {"total": round(done - started, 3), "steps": steps}
        result = {"changed": self.changed, "backup": self.record.name, "state": state, "host": self.host_name, "mounts": mounts,
                  "actions": self.actions, "timings": timings}
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def _mount_result(self, plan, state):
        files = []
        for path in plan["files"]:
            mounted = None
            if state == "mounted":
                mounted = mounted_path(path, plan["roots"].get(_key(path)), plan["access_path"])
            files.append({"backed_up": path, "mounted": mounted})
        return {"lun": plan["lun"], "snapshot": plan["snapshot"], "clone": plan["clone"], "clone_serial": plan["clone_serial"],
                "access_path": plan["access_path"], "files": files}

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
            folder = "%s\\%s\\%s\\" % (self.mount_root, self.record.name, lun.path.rsplit("/", 1)[-1])
            plans.append({"lun": "%s:%s" % (lun.cluster, lun.path), "snapshot": entries[0].snapshots[-1], "clone": "/vol/%s/%s"
                          % (lun.volume_name, name), "clone_serial": None, "serial": serial, "folder": folder,
                          "access_path": folder if self.state == "mounted" and self.access == "folder" else None,
                          "files": sorted(set(entry.path for entry in entries), key=str.lower), "roots": {}, "lun_ref": lun,
                          "existing": self.storage.san.find_lun(lun.cluster, lun.svm, "/vol/%s/%s" % (lun.volume_name, name))})
        return sorted(plans, key=lambda plan: plan["lun"].lower())

    def _assign_letters(self, plans, letters):
        """drive_letters, one per LUN in the order of the mounts (by LUN path); without them each LUN gets a free letter."""
        if not letters:
            return
        if len(letters) != len(plans):
            luns = [plan["lun"] for plan in plans]
            raise SmhvError("INVALID_ARGUMENT", "drive_letters names %d letter(s) for the %d LUN(s) of backup %s to mount (%s); give "
                            "one per LUN, in that order, or none for free letters."
                            % (len(letters), len(luns), self.record.name, ", ".join(luns)), {"drive_letters": letters, "luns": luns})
        for plan, letter in zip(plans, letters):
            plan["access_path"] = letter + ":\\"

    def _volume_roots(self, plans):
        """Each backed-up file's volume root at backup: the access path of the volume holding its path now when that is
        still the backed-up LUN (path_info: a drive letter, a CSV, or a volume mounted in a folder - the deepest access
        path wins). Files whose path is on another LUN now, or on none, are found in the clone once it is connected."""
        paths = [path for plan in plans for path in plan["files"]]
        answers = self.host.call("path_info", {"paths": paths}).result["paths"]
        storage = {_key(item["path"]): item["storage"] for item in answers}
        for plan in plans:
            for path in plan["files"]:
                now = storage.get(_key(path)) or {}
                if now.get("access_path") and (now.get("disk_serial") or "").strip() == plan["serial"]:
                    plan["roots"][_key(path)] = now["access_path"]

    def _find_unknown_roots(self, plans):
        """For files whose volume root path_info could not tell (their LUN is not at their path on this host now): the
        shallowest folder of the backed-up path whose rest is in the clone (the longest relative path found)."""
        candidates = []
        for plan in plans:
            if plan["clone_serial"] is None or plan["access_path"] is None:
                continue
            for path in plan["files"]:
                if _key(path) not in plan["roots"]:
                    candidates += [(plan, path, root, mounted_path(path, root, plan["access_path"])) for root in ancestors(path)]
        if not candidates:
            return
        answers = self.host.call("path_info", {"paths": [candidate[3] for candidate in candidates]}).result["paths"]
        for (plan, path, root, _inside), item in zip(candidates, answers):
            found = item["exists"] and (item["storage"].get("disk_serial") or "").strip() == plan["clone_serial"]
            if found and _key(path) not in plan["roots"]:
                plan["roots"][_key(path)] = root
        for plan in plans:
            lost = [path for path in plan["files"] if _key(path) not in plan["roots"] and plan["clone_serial"]]
            if lost:
                self.warnings.append("Clone %s mounted at %s does not show %s where backup %s had them; browse it to find them."
                                     % (plan["clone"], plan["access_path"], ", ".join(lost), self.record.name))

    def _snapshot(self, plan):
        lun = plan["lun_ref"]
        volume = self.storage.get_volume(lun.cluster, lun.svm, lun.volume_name)
        found = [s for s in self.storage.list_snapshots(volume) if s.name == plan["snapshot"]]
        if not found:
            raise SmhvError("SNAPSHOT_NOT_FOUND", "Snapshot %s of backup %s is gone from volume %s on %s." % (
                plan["snapshot"], self.record.name, volume.name, lun.cluster), {"snapshot": plan["snapshot"], "volume": volume.name})
        return found[0]

    def _where(self, plan):
        return plan["access_path"] or "a free drive letter"

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
                self.actions.append("connect clone %s at %s (if not yet)" % (plan["clone"], self._where(plan)))
                return
            mapping = self.storage.san.map_lun(clone, host_igroup(self.storage, plan["lun_ref"], self.session.facts))
            args = {"serial": clone.serial}
            if plan["access_path"]:
                args["access_path"] = plan["access_path"]
            else:
                args["assign_drive_letter"] = True
            reply = self.host.call("disk_connect", args)
            if plan["access_path"] is None:
                letters = [path for path in reply.result["disk"]["access_paths"] if re.match(r"^[A-Za-z]:\\$", path)]
                plan["access_path"] = letters[0] if letters else None
            if mapping.created or reply.changed:
                self.changed = True
                self.actions.append("connect clone %s at %s on %s" % (plan["clone"], self._where(plan), self.host_name))
        except SmhvError:
            if created:  # this run's clone goes again, and its disk with a rescan; one from an earlier run stays for unmount
                self.host.call("disk_disconnect", {"serial": clone.serial})
                self.storage.san.delete_lun(clone, allow_mapped=True)
                self.host.call("disk_rescan")
            raise

    def _unmount(self, plan, check_mode):
        clone = plan["existing"]
        if clone is None:
            return
        plan["clone_serial"] = clone.serial
        self.changed = True
        if check_mode:
            self.actions.append("disconnect and delete clone %s" % plan["clone"])
            return
        removed = self.host.call("disk_disconnect", {"serial": clone.serial}).result.get("removed_access_paths") or []
        plan["removed"] = removed
        plan["access_path"] = removed[0] if removed else None
        self.actions.append("disconnect and delete clone %s%s" % (plan["clone"], " (mounted at %s)" % ", ".join(removed) if removed else ""))
        self.storage.san.delete_lun(clone, allow_mapped=True)

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
