# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A mount's plan: per LUN of the backup (or of one VM in it), the clone (the one the mount record names, else a new one
`smhv_mount_<lun>_<operation>`), where it goes (`<mount_root>\\<backup>\\<lun>\\` or a drive letter) and where each backed-up
file will be in it (its path below its volume root at backup, under the clone's access path). Nothing here changes
anything.
"""

from __future__ import annotations

import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.resolve import resolve_backed_up_vm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import parse_backup_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import with_separator

MOUNT_ROOT = "C:\\SMHV\\Mounts"
CLONE_PREFIX = "smhv_mount_"
STATES = ("mounted", "unmounted")
ACCESS = ("folder", "drive_letter")
_LETTER = re.compile(r"^([A-Za-z])(:\\?)?$")


def clone_name(lun_path, tag):
    """`smhv_mount_<lun>_<tag>`: the tag is the operation's short id (before issue 13 it was the backup's name, which a
    clone made by an older version still has: legacy_clone_name)."""
    return CLONE_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", "%s_%s" % (lun_path.rsplit("/", 1)[-1], tag))


legacy_clone_name = clone_name


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
    root = with_separator(volume_root)
    if not path.lower().startswith(root.lower()):
        return None
    return with_separator(access_path) + path[len(root):]


def _key(path):
    return path.lower().rstrip("\\")


class MountPlanning:
    """The reading half of MountEngine (engines/mount/run.py), which holds the state these methods fill in."""

    def _plans(self, vm):
        vms = [v for v in self.record.vms if v.outcome != "skipped"]
        if vm:
            vms = resolve_backed_up_vm(self.record, vm)
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
            path, existing = self._existing_clone(lun)
            folder = "%s\\%s\\%s\\" % (self.mount_root, self.record.name, lun.path.rsplit("/", 1)[-1])
            plans.append({"lun": "%s:%s" % (lun.cluster, lun.path), "snapshot": entries[0].snapshots[-1], "clone": path,
                          "clone_serial": None, "serial": serial, "folder": folder,
                          "access_path": folder if self.state == "mounted" and self.access == "folder" else None,
                          "files": sorted(set(entry.path for entry in entries), key=str.lower), "roots": {}, "lun_ref": lun,
                          "existing": existing})
        return sorted(plans, key=lambda plan: plan["lun"].lower())

    def _existing_clone(self, lun):
        """(clone path, LunRef or None): the clone the mount record names for `lun`, else one of the name an older version
        gave (`smhv_mount_<lun>_<backup>`, adopted), else the name this run's clone gets. One ONTAP lookup, two for a LUN
        whose recorded clone is gone."""
        volume = "/vol/%s/" % lun.volume_name
        entry = self.mounted.luns.get(lun.serial)
        if entry and entry.get("clone"):
            found = self.storage.san.find_lun(lun.cluster, lun.svm, entry["clone"])
            if found is not None:
                return entry["clone"], found
        legacy = volume + legacy_clone_name(lun.path, self.record.name)
        found = self.storage.san.find_lun(lun.cluster, lun.svm, legacy)
        if found is not None:
            return legacy, found
        return volume + clone_name(lun.path, self.operation.short), None

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
