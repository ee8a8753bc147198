# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot budget of real volumes: which policies load which ONTAP volume, and what else is there.

rules_budget does the arithmetic; this gathers its inputs from the scopes and ONTAP:
- the volumes: every file of every member VM (vm_inventory's storage: disk serial) -> ONTAP LUN by
  serial (one query per cluster) -> volume (one query per cluster);
- the load on each volume: every policy of every dataset (of the scopes at hand) with a VM file on it,
  the policy being created or changed in place of its stored version;
- what is on the volume now: snapshots are listed (one call per volume); those of backups that a
  counted policy governs (same dataset and retention tag, read from the catalog's file names) and the
  SnapInfo copies of a scope whose SnapInfo LUN is on the volume are counted by their rules, every
  other snapshot (on-demand backups, other tools, SnapMirror's) as it is now;
- the limit: StorageClient.snapshot_limit (255, 1023, or less on a SnapMirror destination).
A policy with retention unlimited is counted as acknowledged: smhv_policy refuses to store one without
acknowledge_unlimited, so one in the catalog was accepted; its backups' snapshots on the volume now are its count.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.budget import (
    PolicyLoad, VolumeUse, check_budget, unlimited_warnings, volume_budget)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import (
    backup_of_snapshot, parse_backup_name, parse_snapinfo_snapshot_name, snapinfo_host)


def policy_load(policy):
    return PolicyLoad(policy.dataset, policy.name, policy.retention(), policy.parsed_schedule(), policy.method,
                      acknowledged=policy.retention_tag == "unlimited")


def _serials(vm):
    return {entry["storage"]["disk_serial"] for entry in vm["files"]
            if entry["storage"]["netapp_lun"] and entry["storage"]["disk_serial"]}


def gather_volume_uses(handles, storage, datasets=None, replace=None, remove=None):
    """[(VolumeUse, VolumeInfo)] for the volumes holding the VMs of `datasets` (names; None: every dataset of the scopes).

    `replace` is a Policy to count instead of its stored version (or as a new one), `remove` a
    (dataset, policy) pair not to count (a policy being deleted).
    """
    policies, members, tags_by_backup = {}, {}, {}
    for handle in handles:
        catalog = handle.catalog
        inventory = handle.vm_by_id()
        for dataset in catalog.get_datasets():
            members.setdefault(dataset.name, set()).update(
                serial for member in dataset.members if member.scope == handle.name and member.vm_id in inventory
                for serial in _serials(inventory[member.vm_id]))
        for policy in catalog.all_policies():
            policies[(policy.dataset, policy.name)] = policy
    if replace is not None:
        policies[(replace.dataset, replace.name)] = replace
    if remove is not None:
        policies.pop(remove, None)
    wanted = set(members) if datasets is None else set(datasets)
    serials = set()
    for name in wanted:
        serials |= members.get(name, set())
    # SnapInfo LUNs: a volume that holds one also keeps that scope's SnapInfo copies.
    snapinfo = {}
    for handle in handles:
        record = handle.session.owner.call("path_info", {"paths": [handle.snapinfo_path]}).result["paths"][0]["storage"]
        if record["netapp_lun"] and record["disk_serial"]:
            snapinfo[handle.name] = record["disk_serial"]
    luns = storage.find_luns_by_serials(sorted(serials | set(snapinfo.values()))) if serials else {}
    volume_keys = {}
    for serial in serials:
        if serial in luns:
            lun = luns[serial]
            volume_keys[(lun.cluster, lun.volume_uuid)] = None
    by_cluster = {}
    for cluster, uuid in volume_keys:
        by_cluster.setdefault(cluster, []).append(uuid)
    volumes = []
    for cluster, uuids in sorted(by_cluster.items()):
        volumes.extend(storage.get_volumes(cluster, sorted(uuids)))
    uses = []
    for volume in sorted(volumes, key=lambda v: (v.cluster, v.svm, v.name)):
        on_volume = {serial for serial, lun in luns.items() if (lun.cluster, lun.volume_uuid) == (volume.cluster, volume.uuid)}
        loads = []
        for (dataset, _name), policy in sorted(policies.items()):
            if members.get(dataset, set()) & on_volume:
                loads.append(policy)
        counted_tags = {(policy.dataset.casefold(), policy.retention_tag) for policy in loads}
        snapinfo_scopes = [handle for handle in handles if snapinfo.get(handle.name) in on_volume]
        snapinfo_hosts = {snapinfo_host(handle.name) for handle in snapinfo_scopes}
        foreign = 0
        held = {}
        for snapshot in storage.list_snapshots(volume):
            backup = backup_of_snapshot(snapshot.name)
            if backup is not None:
                dataset = parse_backup_name(backup)[0]
                tag = _backup_tag(handles, dataset, backup, tags_by_backup)
                if (dataset.casefold(), tag) in counted_tags:
                    if tag == "unlimited":
                        held[dataset.casefold()] = held.get(dataset.casefold(), 0) + 1
                    continue
            parsed = parse_snapinfo_snapshot_name(snapshot.name)
            if parsed is not None and parsed[0] in snapinfo_hosts:
                continue
            foreign += 1
        uses.append((VolumeUse("%s:%s" % (volume.cluster, volume.path), storage.snapshot_limit(volume), foreign,
                               tuple(policy_load(policy) for policy in loads),
                               sum(handle.snapinfo_copies for handle in snapinfo_scopes),
                               dict(("%s/%s" % (policy.dataset, policy.name), held.get(policy.dataset.casefold(), 0))
                                    for policy in loads if policy.retention_tag == "unlimited")), volume))
    return uses


def _backup_tag(handles, dataset, backup, cache):
    """The retention tag of `backup` from the catalogs' file names (one listing per scope and dataset)."""
    key = dataset.casefold()
    if key not in cache:
        cache[key] = {}
        for handle in handles:
            if handle.catalog.get_dataset(dataset) is None:
                continue
            for summary in handle.catalog.list_backups(dataset=dataset):
                cache[key][summary.name] = summary.retention_tag
    return cache[key].get(backup)


def budgets(uses):
    """VolumeBudget dicts of every volume, without raising."""
    return [volume_budget(use).as_dict() for use, _volume in uses]


def warnings(budget_dicts):
    """What the acknowledged unlimited policies on these volumes leave of their snapshot limits, as warnings."""
    return unlimited_warnings(budget_dicts or [])


def enforce(uses):
    """check_budget over the volumes: SNAPSHOT_BUDGET_EXCEEDED with every volume's numbers, else the budgets as dicts."""
    return [budget.as_dict() for budget in check_budget([use for use, _volume in uses])]
