# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restore's plan: nothing here changes anything (RestoreEngine runs it in check mode too).

    inventory   the VM as the target host has it now (or not at all: a deleted VM is restored and registered again), and
                where each backed-up path is now (path_info)
    plan        per LUN: LUN-level restore when the LUN holds only this VM's files, else file copy from a LUN clone of the
                backup's snapshot; SMHV's warnings that need `force` (VM not running, more or fewer virtual disks than at
                backup, checkpoint or configuration location changed, disk names or paths changed, files on another LUN
                now). With verify_snapshot=false (SMHV's -DisableVerifySnapshot, after a SnapMirror failover) the recorded
                LUNs are not looked for: each file's path (after the path map) on the target host names the LUN now, and the
                snapshot of the backup's name on that LUN's volume serves it. Every snapshot is found before anything changes.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import mapped, with_separator
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.self_management import refuse_controller_vm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.controller import controller_addresses

_DIFFERENCING = (".avhdx", ".avhd")
NTFS_FOLDERS = ("system volume information", "$recycle.bin")  # on every volume root; not a VM's, restored with the LUN


def _key(path):
    return path.lower().rstrip("\\")


def _under(path, root):
    """`path` relative to the volume root `root` ('J:\\'), or None."""
    if not root:
        return None
    root = with_separator(root)
    return path[len(root):] if path.lower().startswith(root.lower()) else None


def _base_disks(paths):
    return sorted(_key(p) for p in paths if not p.lower().endswith(_DIFFERENCING))


class RestorePlanning:
    """The reading half of RestoreEngine (engines/restore/run.py), which holds the state these methods fill in."""

    def _inventory(self):
        if not self.alternate and self.session.kind == "cluster":
            self._cluster_inventory()
        else:
            found = self.target.call("vm_inventory", {"ids": [self.vm_id], "require_all": False}).result["vms"]
            self.current = found[0] if found else None
        if self.alternate and self.current is not None:
            raise SmhvError("VM_EXISTS", "VM %s (%s) is registered on host %s already; restore it in place, or remove it there first."
                            % (self.vm_name, self.vm_id, self.target.name), {"vm_id": self.vm_id, "host": self.target.name})
        if self.verify:  # where the backed-up paths are on the scope's host (a moved LUN is a warning)
            paths = [f.path for f in self.backed_up.files]
            self.storage_of = {_key(p["path"]): p["storage"] for p in self.host.call("path_info", {"paths": paths}).result["paths"]}
        else:  # where the files go: the LUN behind each of those paths on the target host serves the backup
            paths = list(dict.fromkeys(self._mapped(f.path) for f in self.backed_up.files))
            self.storage_of = {_key(p["path"]): p["storage"] for p in self.target.call("path_info", {"paths": paths}).result["paths"]}

    def _cluster_inventory(self):
        """In place on a cluster: the VM is restored on the node it is registered on (the owner node when it is gone)."""
        self.current = None
        for node, outcome in self.session.call_nodes("vm_inventory", {"ids": [self.vm_id], "require_all": False}).items():
            if isinstance(outcome, SmhvError):
                raise outcome
            if outcome.result["vms"]:
                self.current = outcome.result["vms"][0]
                if node.lower() != self.session.owner.name.lower():
                    self.target = self.session.other_nodes()[node]
                    self.target_facts = self.target.call("host_facts").result
                break

    # -- plan --------------------------------------------------------------------------------------
    def _plan(self):
        if self.current is not None:  # an in-place restore stops and removes the VM: never the one this controller runs in
            address = getattr(getattr(self.target, "settings", None), "address", None)
            refuse_controller_vm([self.current], controller_addresses(address), "restore", self.target.name)
        if self.current is None:
            self.notes.append("VM %s is not registered on host %s: it is restored from backup %s and registered again."
                              % (self.vm_name, self.session.name, self.record.name))
        else:
            self._warnings(self.current)
        if self.verify:
            self._plan_recorded_luns()
        else:
            self._plan_current_luns()
        self._find_snapshots()
        self.actions.append("restore VM %s (%s) from backup %s (%s)" % (self.vm_name, self.vm_id, self.record.name, self.record.backup_type))
        if self.current is not None:
            if self.current["state"] != "Off":
                self.actions.append("stop VM %s (now %s)" % (self.vm_name, self.current["state"]))
            if self.current["clustered"]:
                self.actions.append("remove VM %s's cluster role %s (added again after the restore)" % (self.vm_name, self.current["cluster_group"]))
            self.actions.append("remove VM %s's registration (its virtual disks stay)" % self.vm_name)
        for plan in self.luns:
            if plan["method"] == "lun":
                self.actions.append("restore LUN %s from snapshot %s (it holds only this VM's files)" % (plan["lun"], plan["snapshot"]))
            else:
                why = ("alternate host or paths" if self.alternate else "the files are on another LUN now" if plan.get("now_on")
                       else "the LUN holds other files too")
                self.actions.append("copy %d file(s) from a clone of LUN %s in snapshot %s to host %s (%s)"
                                    % (len(plan["files"]), plan["lun"], plan["snapshot"], self.target.name, why))
        if not self.verify:
            self.notes.append("verify_snapshot=false: the recorded LUNs were not checked; %s." % "; ".join(
                "the backup's data comes from snapshot %s of LUN %s (at %s on %s now; the backup recorded volume %s:%s:%s, "
                "LUN serial %s)" % (plan["snapshot"], plan["lun"], plan["access_path"], self.target.name, plan["recorded"]["cluster"],
                                    plan["recorded"]["svm"], plan["recorded"]["volume"], plan["recorded"]["serial"])
                for plan in self.luns))
        if self.alternate:
            self.notes.append("VM %s is restored to host %s%s." % (self.vm_name, self.target.name, " with its paths mapped" if self.path_map else ""))
        self.actions.append("register VM %s from %s on host %s (same id)" % (self.vm_name, self._mapped(self.config_path), self.target.name))
        if self.target_session.kind == "cluster":
            self.actions.append("make VM %s highly available on cluster %s (Add-ClusterVirtualMachineRole)" % (self.vm_name, self.target_session.name))
        if self.post_script is not None:
            self.actions.append("run the post-script %s on %s" % (self.post_script.path, self.target.name))

    def _plan_recorded_luns(self):
        """Per LUN the backup recorded (verify_snapshot=true): that LUN, found by its serial, and its volume's snapshot."""
        by_serial = {}
        for entry in self.backed_up.files:
            by_serial.setdefault(entry.lun_serial, []).append(entry)
        try:
            luns = self.storage.find_luns_by_serials(sorted(by_serial))
        except SmhvError as error:  # a cluster that does not answer (the primary site is down) hides the recorded LUNs
            if not error.details.get("serials_not_found"):
                raise
            raise self._recorded_lun_gone(by_serial[error.details["serials_not_found"][0]], error.message) from error
        for serial, entries in sorted(by_serial.items()):
            lun = luns.get(serial)
            if lun is None:
                raise self._recorded_lun_gone(entries)
            now = self.storage_of.get(_key(entries[0].path), {})
            root = now.get("access_path")
            if root is None:
                raise self._with_suggestion(SmhvError(
                    "RESTORE_UNSUPPORTED", "%s was on LUN %s:%s (serial %s) at backup %s, and no volume of host %s holds its path now: "
                    "connect that LUN (or the one that replaced it) at its old access path first."
                    % (entries[0].path, lun.cluster, lun.path, serial, self.record.name, self.session.name),
                    {"serial": serial, "path": entries[0].path}), entries[0])
            moved = sorted(set(self.storage_of.get(_key(e.path), {}).get("disk_serial") or "none" for e in entries) - {serial})
            if moved and not self.alternate:  # to another host or paths, every file is copied from a clone anyway
                self.warnings.append("The files of VM %s that were on LUN %s:%s (serial %s) at backup %s are on another LUN now "
                                     "(disk serial %s at %s): %s. They are copied back from a clone of the old LUN."
                                     % (self.vm_name, lun.cluster, lun.path, serial, self.record.name, ", ".join(moved), root,
                                        ", ".join(e.path for e in entries)))
            is_csv = now.get("is_csv")
            exclusive = not self.alternate and not is_csv and not moved and self._exclusive(root, entries)
            plan = self._lun_plan(lun, entries, root, root, "lun" if exclusive else "file_copy")
            if moved:
                plan["now_on"] = moved
            self.luns.append(plan)

    def _lun_plan(self, lun, entries, access_path, source_root, method):
        return {"serial": lun.serial, "lun": "%s:%s" % (lun.cluster, lun.path), "cluster": lun.cluster, "svm": lun.svm,
                "volume": lun.volume_name, "access_path": access_path,
                "snapshot": entries[0].snapshots[-1],  # the VSS provider's pair: the second one, after autorecovery
                "method": method, "files": [e.path for e in entries], "destinations": [self._mapped(e.path) for e in entries],
                "lun_ref": lun, "source_root": source_root}

    def _recorded_lun_gone(self, entries, cause=None):
        """The LUN_NOT_FOUND error for a recorded LUN no configured cluster has (or answers for)."""
        entry = entries[0]
        return self._with_suggestion(SmhvError(
            "LUN_NOT_FOUND", "Backup %s recorded %s on the LUN with serial %s in volume %s:%s:%s, and no configured cluster has "
            "that LUN now%s." % (self.record.name, entry.path, entry.lun_serial, entry.cluster, entry.svm, entry.volume,
                                 " (a cluster did not answer: %s)" % cause if cause else ""),
            {"serial": entry.lun_serial, "path": entry.path, "recorded_volume": "%s:%s:%s" % (entry.cluster, entry.svm, entry.volume)}), entry)

    def _with_suggestion(self, error, entry):
        """`error` (verify_snapshot=true could not use the recorded LUN), its message completed: when the LUN behind the file's
        path (after path_map) on the target host is another one whose volume has the backup's snapshot (a SnapMirror destination
        after a failover), restore with verify_snapshot=false; else how to get there."""
        destination, snapshot = self._mapped(entry.path), entry.snapshots[-1]
        try:
            serial = self.target.call("path_info", {"paths": [destination]}).result["paths"][0]["storage"]["disk_serial"]
            lun = self.storage.find_luns_by_serials([serial]).get(serial) if serial and serial != entry.lun_serial else None
            volume = self.storage.get_volumes(lun.cluster, [lun.volume_uuid])[0] if lun else None
            has_snapshot = bool(volume and [s for s in self.storage.list_snapshots(volume, snapshot) if s.name == snapshot])
        except SmhvError:  # the suggestion is a bonus: the error stands without it
            lun, has_snapshot = None, False
        if has_snapshot:
            error.message += (" Host %s has %s on LUN %s:%s, whose volume %s:%s has snapshot %s (a SnapMirror destination after a "
                              "failover?): restore with verify_snapshot=false to take the backup from there."
                              % (self.target.name, destination, lun.cluster, lun.path, lun.svm, lun.volume_name, snapshot))
            error.details["suggest"] = {"verify_snapshot": False, "lun": "%s:%s" % (lun.cluster, lun.path)}
        else:
            error.message += (" After a SnapMirror failover, connect the destination LUNs to host %s (at the paths path_map gives) "
                              "and restore with verify_snapshot=false." % self.target.name)
        return error

    def _plan_current_luns(self):
        """Per LUN that holds the files' paths on the target host now (verify_snapshot=false, SMHV's -DisableVerifySnapshot):
        after a failover, the SnapMirror destination LUNs connected at the access paths path_map maps the old ones to."""
        by_serial, where = {}, {}
        for entry in self.backed_up.files:
            destination = self._mapped(entry.path)
            now = self.storage_of.get(_key(destination), {})
            if not now.get("access_path") or not now.get("netapp_lun") or not now.get("disk_serial"):
                raise SmhvError("RESTORE_UNSUPPORTED", "With verify_snapshot=false the backup's data is taken from the LUN that holds each "
                                "file's path on the target host now, and %s (%s at backup %s) is on no NetApp LUN of host %s: connect the "
                                "SnapMirror destination LUN there first%s." % (
                                    destination, entry.path, self.record.name, self.target.name,
                                    " (path_map maps the old access paths to the new ones)" if self.path_map else
                                    " at the old access path, or give path_map"), {"path": destination})
            by_serial.setdefault(now["disk_serial"], []).append(entry)
            where[now["disk_serial"]] = now
        luns = self.storage.find_luns_by_serials(sorted(by_serial))
        for serial, entries in sorted(by_serial.items()):
            now = where[serial]
            lun = luns.get(serial)
            if lun is None:
                raise SmhvError("LUN_NOT_FOUND", "%s on host %s is on disk serial %s, which none of the configured ONTAP clusters has: add "
                                "its cluster (the SnapMirror destination's) to storage_systems." % (
                                    self._mapped(entries[0].path), self.target.name, serial), {"serial": serial})
            recorded = sorted(set((e.cluster, e.svm, e.volume, e.lun_serial) for e in entries))
            if lun.serial not in [r[3] for r in recorded] and (lun.cluster, lun.svm, lun.volume_name) in [r[:3] for r in recorded]:
                # Not a mirror: another LUN of the recorded volume (a drive moved to a new LUN), which the snapshot may not hold.
                raise SmhvError("RESTORE_UNSUPPORTED", "%s on host %s is on LUN %s:%s now, another LUN of volume %s than at backup %s (serial "
                                "%s): verify_snapshot=false is for LUNs that replaced the recorded ones on another volume (a SnapMirror "
                                "destination). Restore with verify_snapshot=true (and force) to copy the files from the old LUN."
                                % (self._mapped(entries[0].path), self.target.name, lun.cluster, lun.path, lun.volume_name,
                                   self.record.name, recorded[0][3]), {"serial": lun.serial, "recorded_serial": recorded[0][3]})
            root = now["access_path"]
            source_root = self._source_root(entries, root, lun)
            # The LUN is the target host's own, and the files keep their place inside it: LUN-level also to another host or paths.
            exclusive = not now.get("is_csv") and self._exclusive(root, entries)
            plan = self._lun_plan(lun, entries, root, source_root, "lun" if exclusive else "file_copy")
            plan["recorded"] = dict(zip(("cluster", "svm", "volume", "serial"), recorded[0]))
            self.luns.append(plan)

    def _source_root(self, entries, root, lun):
        """The access path the LUN had when the backup was taken, so that a backed-up path names a file inside the LUN: the
        mapped path's part under the LUN's access path now must end each backed-up path (path_map maps access path to access
        path, as the seed's J:\\ -> K:\\ does). The LUN in the snapshot has the layout the recorded LUN had."""
        roots = set()
        for entry in entries:
            inside = _under(self._mapped(entry.path), root)
            old_root = entry.path[:len(entry.path) - len(inside)] if inside else ""
            fits = inside and entry.path.lower().endswith(inside.lower()) and old_root.endswith("\\")
            roots.add(old_root if fits else None)
        if len(roots) != 1 or None in roots:
            raise SmhvError("RESTORE_UNSUPPORTED", "With verify_snapshot=false the files of VM %s are read from LUN %s:%s at the same place "
                            "inside the LUN as at backup %s, so path_map must map the old access path to %s (where that LUN is on host "
                            "%s now), as J:\\ -> K:\\ does; %s are mapped to %s." % (
                                self.vm_name, lun.cluster, lun.path, self.record.name, root, self.target.name,
                                ", ".join(e.path for e in entries), ", ".join(self._mapped(e.path) for e in entries)),
                            {"access_path": root, "paths": [e.path for e in entries]})
        return roots.pop()

    def _find_snapshots(self):
        """The backup's snapshot in each planned LUN's volume, before anything changes: one volume read per cluster and one
        snapshot query per volume. A missing one fails with SNAPSHOT_NOT_FOUND naming the volume and what to do."""
        volumes = {}
        for cluster in sorted(set(plan["lun_ref"].cluster for plan in self.luns)):
            uuids = sorted(set(plan["lun_ref"].volume_uuid for plan in self.luns if plan["lun_ref"].cluster == cluster))
            for volume in self.storage.get_volumes(cluster, uuids):
                volumes[(cluster, volume.uuid)] = volume
        found = {}
        for plan in self.luns:
            volume = volumes[(plan["lun_ref"].cluster, plan["lun_ref"].volume_uuid)]
            key = (volume.cluster, volume.uuid, plan["snapshot"])
            if key not in found:
                found[key] = [s for s in self.storage.list_snapshots(volume, plan["snapshot"]) if s.name == plan["snapshot"]]
            if not found[key]:
                self._snapshot_missing(plan, volume)
            plan["snapshot_ref"] = found[key][0]

    def _snapshot_missing(self, plan, volume):
        where = "%s:%s:%s" % (volume.cluster, volume.svm, volume.name)
        details = {"snapshot": plan["snapshot"], "volume": volume.name, "cluster": volume.cluster, "svm": volume.svm}
        if self.verify:
            raise SmhvError("SNAPSHOT_NOT_FOUND", "Snapshot %s of backup %s is gone from volume %s on %s." % (
                plan["snapshot"], self.record.name, volume.name, volume.cluster), details)
        names = set(s.name for s in self.storage.list_snapshots(volume))
        there = [b.name for b in self.catalog.list_backups(vm_id=self.vm_id, status="ok")
                 if b.name in names or b.name + "_backup" in names]
        details["backups_on_volume"] = there
        raise SmhvError("SNAPSHOT_NOT_FOUND", "Volume %s, which holds %s on host %s now (LUN %s), has no snapshot %s of backup %s: the "
                        "backup did not reach it (it was not replicated, or the mirror was broken before it was). Update the SnapMirror "
                        "relationship to %s if its source is still reachable, or restore an older backup whose snapshot is there (%s)."
                        % (where, plan["access_path"], self.target.name, plan["lun"], plan["snapshot"], self.record.name, volume.name,
                           ", ".join(there[-3:]) if there else "none of VM %s's backups is" % self.vm_name), details)

    def _warnings(self, vm):
        """SMHV's restore warnings about the VM as it is now (seed §6.10); the LUN one is the plan's, per LUN."""
        backup, name = self.record.name, self.vm_name
        if vm["state"] != "Running":
            self.warnings.append("VM %s is not running on host %s (it is %s): the restore from backup %s replaces its files%s."
                                 % (name, self.session.name, vm["state"], backup, " and starts it" if self.start else " and leaves it off"))
        now = _base_disks(f["path"] for f in vm["files"] if f["kind"] == "vhd")
        then = _base_disks(f.path for f in self.backed_up.files if f.kind == "vhd")
        paths = dict((_key(f["path"]), f["path"]) for f in vm["files"])
        paths.update((_key(f.path), f.path) for f in self.backed_up.files)
        self.extra_disks = [paths[p] for p in now if p not in then]
        missing = [paths[p] for p in then if p not in now]
        if len(now) > len(then):
            self.warnings.append("VM %s has more virtual disks (%d) than at backup %s (%d): %s attached since; the restored VM "
                                 "will not have %s (the files stay)." % (name, len(now), backup, len(then), ", ".join(self.extra_disks),
                                                                         "it" if len(self.extra_disks) == 1 else "them"))
        elif len(now) < len(then):
            self.warnings.append("VM %s has fewer virtual disks (%d) than at backup %s (%d): %s no longer attached; the restore "
                                 "brings back and attaches the backed-up disks." % (name, len(now), backup, len(then), ", ".join(missing)))
        elif now != then:
            self.warnings.append("The names or paths of VM %s's virtual disks changed since backup %s: %s now, %s at backup; the "
                                 "restore puts back the backed-up disks (the files at the new paths stay, detached)."
                                 % (name, backup, ", ".join(self.extra_disks), ", ".join(missing)))
        then_snapshots = self.backed_up.snapshot_location
        if then_snapshots and vm.get("snapshot_location") and _key(vm["snapshot_location"]) != _key(then_snapshots):
            self.warnings.append("The checkpoint (snapshot) file location of VM %s changed since backup %s (%s, was %s); the "
                                 "restored VM has the old one." % (name, backup, vm["snapshot_location"], then_snapshots))
        if vm["config_path"] and _key(vm["config_path"]) != _key(self.config_path):
            self.warnings.append("The configuration location of VM %s changed since backup %s (%s, was %s); the restored VM is "
                                 "registered from the old one." % (name, backup, vm["config_path"], self.config_path))

    def _exclusive(self, root, entries):
        """Whether every file on the volume at `root` is this VM's (then the whole LUN can go back). The root is listed
        alone and each of its folders recursively, but not NTFS's own folders: a recursive listing of a volume root
        fails on System Volume Information, which only SYSTEM may read."""
        own = set(_key(self._mapped(e.path)) for e in entries)  # the listing is the target host's
        if self.current is not None:  # its own newer files go with a LUN-level restore; disks attached since backup do not
            own |= set(_key(f["path"]) for f in self.current["files"]) - set(_key(p) for p in self.extra_disks)
        folders = []
        for item in self.target.call("file_list", {"path": root}).result["entries"]:
            if not item["is_directory"]:
                if _key(item["path"]) not in own:
                    return False
            elif item["name"].lower() not in NTFS_FOLDERS:
                folders.append(item["path"])
        for folder in folders:
            listing = self.target.call("file_list", {"path": folder, "recurse": True}).result["entries"]
            if any(_key(item["path"]) not in own for item in listing if not item["is_directory"]):
                return False
        return True

    def _mapped(self, path):
        return mapped(path, self.path_map)
