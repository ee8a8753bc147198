# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure part of a failover's plan: where a backed-up file's LUN was, the recovery point, which destination LUN
stands for which source LUN, and where it goes on the DR host. No I/O here; failover.py feeds it what it read."""

from __future__ import annotations

import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import with_separator

_DRIVE = re.compile(r"^([A-Za-z]):\\")
_CSV = re.compile(r"^([A-Za-z]:\\ClusterStorage\\[^\\]+\\)", re.IGNORECASE)


def volume_root(path):
    """The access path of the volume a backed-up path was on: 'C:\\ClusterStorage\\Volume1\\' for a CSV, 'J:\\' for a
    drive letter other than the system drive; None when the path alone cannot tell (a mount folder: give `luns`)."""
    csv = _CSV.match(path)
    if csv:
        return csv.group(1)
    drive = _DRIVE.match(path)
    if drive and drive.group(1).lower() != "c":
        return path[:3].upper()
    return None


def volume_key(cluster, svm, volume):
    return "%s:%s:%s" % (cluster, svm, volume)


def source_luns(record):
    """{source LUN serial: {"volume": key, "roots": set, "vms": set of ids}} of every VM a backup record includes (all of
    them, not only the ones failed over: a LUN restored whole takes its neighbours along)."""
    luns = {}
    for vm in record.vms:
        if vm.outcome == "skipped":
            continue
        for entry in vm.files:
            lun = luns.setdefault(entry.lun_serial, {"volume": volume_key(entry.cluster, entry.svm, entry.volume), "roots": set(),
                                                     "vms": set()})
            lun["roots"].add(volume_root(entry.path))
            lun["vms"].add(vm.vm_id)
    return luns


def needed_snapshots(record, vm_ids):
    """{source volume key: snapshot name} the VMs `vm_ids` need from backup `record` (the VSS provider's pair: its second)."""
    needed = {}
    for vm in record.vms:
        if vm.vm_id not in vm_ids or vm.outcome == "skipped":
            continue
        for entry in vm.files:
            needed[volume_key(entry.cluster, entry.svm, entry.volume)] = entry.snapshots[-1]
    return needed


def choose_recovery_point(candidates, vm_ids, destination_of, snapshots_on, named=None):
    """The newest backup among `candidates` (BackupRecords, newest first) that holds every VM of `vm_ids` and whose
    snapshot is on the destination of every source volume those VMs need; or the backup `named`.

    destination_of: {source volume key: destination volume key, or None when no relationship at the DR site has it};
    snapshots_on(destination key) -> set of snapshot names there.
    Returns (record, {source volume key: (destination key, snapshot)}, skipped [{"backup", "reason"}] newer ones)."""
    skipped = []
    for record in candidates:
        if named and record.name != named:
            continue
        reason = None
        missing_vms = sorted(vm_id for vm_id in vm_ids if not record.includes(vm_id))
        volumes = {}
        if missing_vms:
            reason = "does not hold VM(s) %s" % ", ".join(missing_vms)
        else:
            for source, snapshot in sorted(needed_snapshots(record, vm_ids).items()):
                destination = destination_of.get(source)
                if destination is None:
                    reason = "volume %s has no SnapMirror destination on the DR site's clusters" % source
                    break
                if snapshot not in snapshots_on(destination):
                    reason = "snapshot %s is not on destination volume %s (not replicated)" % (snapshot, destination)
                    break
                volumes[source] = (destination, snapshot)
        if reason is None:
            return record, volumes, skipped
        skipped.append({"backup": record.name, "reason": reason})
        if named:
            break
    what = "backup %s" % named if named else "any backup holding them"
    raise SmhvError("SNAPSHOT_NOT_FOUND", "No recovery point for VM(s) %s at the DR site: %s%s. %s" % (
        ", ".join(sorted(vm_ids)), what, " (" + "; ".join("%s %s" % (s["backup"], s["reason"]) for s in skipped[:5]) + ")" if skipped else
        " is in the catalog", "Update the SnapMirror relationships, or name an older backup." if skipped else ""),
        {"skipped": skipped, "vm_ids": sorted(vm_ids)})


def match_luns(sources, destination_luns, lun_hints):
    """{source serial: destination LunRef}. sources: {serial: {"volume": destination key, "roots": set}} (the source LUNs of
    one destination volume); destination_luns: the LUNs in that destination volume; lun_hints: {destination LUN path
    ('/vol/v/l') lower-case: source access path}. One LUN each side pairs up by itself; else the hints say which is which."""
    if len(sources) == 1 and len(destination_luns) == 1:
        return {next(iter(sources)): destination_luns[0]}
    paired = {}
    for lun in destination_luns:
        root = lun_hints.get(lun.path.lower())
        if root is None:
            continue
        for serial, source in sources.items():
            if with_separator(root).lower() in [r.lower() for r in source["roots"] if r]:
                paired[serial] = lun
    missing = sorted(serial for serial in sources if serial not in paired)
    if missing:
        roots = sorted(set(r or "?" for serial in missing for r in sources[serial]["roots"]))
        raise SmhvError("INVALID_ARGUMENT", "Destination volume %s holds LUNs %s, and the backup had files at %s on it: say in `luns` which "
                        "destination LUN was at which access path on the primary site, e.g. {lun: %s, access_path: '%s'}." % (
                            next(iter(sources.values()))["volume"], ", ".join(lun.path for lun in destination_luns), ", ".join(roots),
                            destination_luns[0].path if destination_luns else "/vol/<volume>/<lun>", roots[0]),
                        {"destination_luns": [lun.path for lun in destination_luns], "access_paths": roots})
    return paired


def start_groups(vm_names, order):
    """[(names, wait seconds after the group)]: the groups of `order` ({"vms": [names], "wait_seconds"}) in order, then
    every other VM in one last group. Names are matched case-insensitively; a name no VM has is an error."""
    by_lower = {name.lower(): name for name in vm_names}
    groups, seen = [], set()
    for group in order or []:
        names = []
        for name in group.get("vms") or []:
            if name.lower() not in by_lower:
                raise SmhvError("INVALID_ARGUMENT", "start_order names VM %s, which is not among the VMs failed over (%s)."
                                % (name, ", ".join(sorted(vm_names))), {"vm": name})
            if name.lower() not in seen:
                seen.add(name.lower())
                names.append(by_lower[name.lower()])
        if names:
            groups.append((names, int(group.get("wait_seconds") or 0)))
    rest = [name for name in vm_names if name.lower() not in seen]
    if rest:
        groups.append((rest, 0))
    return groups
