# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Both sites after a failover, as failback and reprotect (failback.py, reprotect.py) find them: which volumes made the
round trip, where each relationship stands, which LUN is which on either side and where each is connected.

A volume makes the round trip when a host of one side has one of its LUNs connected and a SnapMirror relationship joins
it to the other site. The relationships are read on both sites' clusters (one query per cluster), and the stage of each
volume follows from what ONTAP reports, so a re-run after a fault anywhere finds the same answer:

    failed_over  A -> B broken off on the DR cluster (the failover broke it); nothing reversed yet
    reversed     B -> A on the primary cluster (a reverse resync, or a new relationship to a rebuilt site), not broken
    arrived      B -> A broken off on the primary cluster: the primary volume is writable again (failback's arrival)
    protected    A -> B on the DR cluster, not broken (before a failover, or after reprotect)
"""

from __future__ import annotations

import dataclasses
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.site import DrStorage
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import HAS_NETAPP_ONTAP, dig, fetch
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import IgroupRef
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import path_pairs, with_separator
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.self_management import refuse_controller_vm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.controller import controller_addresses

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import Igroup, LunMap, SnapmirrorRelationship


class RoundTripStorage(DrStorage):
    """DrStorage plus the one call a rebuilt primary site needs: a new relationship that makes its destination volume."""

    def create_mirror(self, source_cluster, source_path, cluster, destination_path):
        """Create and initialize SnapMirror `source_path` (on `source_cluster`) -> `destination_path` on `cluster`, the
        destination volume made by ONTAP (create_destination) unless it is there; the relationship once snapmirrored."""
        existing = [r for r in self.snapmirror.find(destination_path=destination_path) if r.cluster == cluster]
        if not existing:
            endpoint = self._clusters.endpoint(cluster)
            record = SnapmirrorRelationship(source={"path": source_path, "cluster": {"name": source_cluster}},
                                            destination={"path": destination_path}, state="snapmirrored")
            try:
                self.get_volume(cluster, *destination_path.split(":", 1))
            except SmhvError as error:
                if error.code != "STORAGE_OBJECT_NOT_FOUND":
                    raise
                record.create_destination = {"enabled": True}
            with endpoint.call("create and initialize SnapMirror %s -> %s" % (source_path, destination_path)):
                record.post()
            existing = [r for r in self.snapmirror.find(destination_path=destination_path) if r.cluster == cluster]
        relationship = existing[0]
        deadline = time.monotonic() + self._clusters.endpoint(cluster).timeout
        while relationship.state != "snapmirrored" or relationship.transferring:
            if time.monotonic() > deadline:
                raise SmhvError("STORAGE_JOB_TIMEOUT", "SnapMirror %s -> %s on %s is still %s; run again when it has initialized." % (
                    source_path, destination_path, cluster, relationship.state), {"relationship_uuid": relationship.uuid})
            time.sleep(0.2)
            relationship = self.snapmirror.get(relationship)
        return relationship

    def delete_relationship(self, relationship):
        """Delete `relationship` on its destination cluster (a rebuilt site's old relationship, whose source is gone)."""
        endpoint = self._clusters.endpoint(relationship.cluster)
        with endpoint.call("delete SnapMirror relationship %s -> %s" % (relationship.source_path, relationship.destination_path)):
            SnapmirrorRelationship(uuid=relationship.uuid).delete()

    def igroups_holding(self, cluster, svm, initiators):
        """The names of `svm`'s igroups holding any of `initiators` (a DR cluster's nodes are presented LUNs through their own
        igroups or one holding them all, as the failover found or made them), one query."""
        endpoint = self._clusters.endpoint(cluster)
        with endpoint.call("list igroups of SVM %s" % svm):
            groups = fetch(Igroup, fields="name,initiators.name", **{"svm.name": svm})
        wanted = set(initiator.lower() for initiator in initiators)
        return sorted(group["name"] for group in groups if wanted & set(item["name"].lower() for item in group.get("initiators") or []))

    def lun_maps(self, luns, igroup):
        """[(LunRef, IgroupRef)] of the maps of `luns` to the igroup named `igroup` ("a|b": any of them): one query per cluster."""
        by_cluster, found = {}, []
        for lun in luns:
            by_cluster.setdefault(lun.cluster, {})[lun.lun_uuid] = lun
        for cluster, by_uuid in sorted(by_cluster.items()):
            endpoint = self._clusters.endpoint(cluster)
            with endpoint.call("list the maps of %d LUNs to igroup '%s'" % (len(by_uuid), igroup)):
                records = fetch(LunMap, fields="igroup.name,igroup.uuid,lun.uuid,svm.name", **{"lun.uuid": "|".join(sorted(by_uuid)),
                                                                                               "igroup.name": igroup})
            for record in records:
                lun = by_uuid[dig(record, "lun.uuid")]
                found.append((lun, IgroupRef(cluster=cluster, svm=lun.svm, name=dig(record, "igroup.name"), uuid=dig(record, "igroup.uuid"),
                                             os_type="", initiators=(), created=False)))
        return found


def connected_luns(session, storage):
    """{(cluster, svm, volume): [(LunRef, access path)]} of the ONTAP LUNs `session`'s host has online at an access path, on
    `storage`'s clusters; and the host's disks by serial."""
    disks = {disk["serial"]: disk for disk in session.owner.call("disk_rescan", {}, True).result["disks"]}
    online = sorted(serial for serial, disk in disks.items() if disk["online"] and disk["netapp_lun"] and disk["access_paths"])
    found = storage.find_luns_by_serials(online) if online else {}
    volumes = {}
    for serial, lun in sorted(found.items()):
        volumes.setdefault((lun.cluster, lun.svm, lun.volume_name), []).append((lun, with_separator(disks[serial]["access_paths"][0])))
    return volumes, disks


def vms_on(session, ids):
    """`session`'s VMs of `ids` (vm_inventory), each with the "node" it is registered on: on a failover cluster every node is
    asked (a VM may run on any), and a node that does not answer stops the run before any change."""
    if not ids:
        return []
    found = []
    for node, outcome in session.call_nodes("vm_inventory", {"ids": sorted(ids), "require_all": False}).items():
        if isinstance(outcome, SmhvError):
            raise outcome
        # the owner's client is named after the cluster it was reached by: its VMs are on the owner node
        where = session.owner_node if session.kind == "cluster" and node == session.owner.name else node
        found.extend(dict(vm, node=where) for vm in outcome.result["vms"])
    return found


def refuse_controller_vms(session, vms, doing):
    """CONTROLLER_VM when one of `vms` (vm_inventory records of `session`) runs this controller: a DR operation that would stop
    or remove it refuses in its plan, before anything changed (the self-management guard the restore has, seed appendix)."""
    if vms:
        address = getattr(getattr(session.owner, "settings", None), "address", None)
        refuse_controller_vm(vms, controller_addresses(address), doing, session.name)


def client_of(session, node):
    """The agent client of `session`'s `node` (its owner, or another node of a failover cluster)."""
    if node.lower() in (session.owner.name.lower(), (session.owner_node or "").lower()):
        return session.owner
    return session.other_nodes()[node]


def _key(cluster, path):
    return "%s:%s" % (cluster, path)


class RoundTrip:
    """The volumes of a failover's round trip, seen from `anchor` ('dr': the DR host's disks, before and during failback;
    'primary': the primary host's, once the VMs are back there)."""

    def __init__(self, primary, dr, primary_storage, dr_storage, primary_volumes=None):
        self.primary, self.dr = primary, dr
        self.primary_storage, self.dr_storage = primary_storage, dr_storage
        self.primary_volumes = {key.lower(): value for key, value in (primary_volumes or {}).items()}

    def survey(self, anchor):
        self.primary_clusters = [identity.name for identity in self.primary_storage.clusters()]
        self.dr_clusters = [identity.name for identity in self.dr_storage.clusters()]
        at_dr = self.dr_storage.relationships()
        at_primary = self.primary_storage.relationships()
        self.dr_volumes, self.dr_disks = connected_luns(self.dr, self.dr_storage)
        self.primary_volumes_now, self.primary_disks = connected_luns(self.primary, self.primary_storage)
        entries = []
        if anchor == "dr":
            for (cluster, svm, name), luns in sorted(self.dr_volumes.items()):
                entry = self._from_dr(cluster, "%s:%s" % (svm, name), at_dr, at_primary)
                if entry is not None:
                    entry["dr_luns"] = luns
                    entries.append(entry)
        else:
            for (cluster, svm, name), luns in sorted(self.primary_volumes_now.items()):
                entry = self._from_primary(cluster, "%s:%s" % (svm, name), at_dr, at_primary)
                if entry is not None:
                    entries.append(entry)
        for entry in entries:
            self._pair_luns(entry)
        self.entries = entries
        return entries

    def _from_dr(self, cluster, path, at_dr, at_primary):
        original = next((r for r in at_dr if r.cluster == cluster and r.destination_path == path and r.source_cluster in self.primary_clusters),
                        None)
        back = next((r for r in at_primary if r.source_path == path and r.source_cluster == cluster), None)
        if original is None and back is None:
            return None  # the DR host's own LUN: not part of the round trip
        if back is not None:
            primary = (back.cluster, back.destination_path)
        else:
            wanted = self.primary_volumes.get(path.lower()) or self.primary_volumes.get(_key(cluster, path).lower())
            primary = (original.source_cluster, wanted.split(":", 1)[-1] if wanted and wanted.count(":") == 2 else wanted or original.source_path)
        return self._entry(cluster, path, primary, original, back)

    def _from_primary(self, cluster, path, at_dr, at_primary):
        back = next((r for r in at_primary if r.cluster == cluster and r.destination_path == path and r.source_cluster in self.dr_clusters),
                    None)
        original = next((r for r in at_dr if r.source_path == path and r.source_cluster == cluster), None)
        if original is None and back is None:
            return None
        dr = (back.source_cluster, back.source_path) if back is not None else (original.cluster, original.destination_path)
        return self._entry(dr[0], dr[1], (cluster, path), original, back)

    @staticmethod
    def _entry(dr_cluster, dr_path, primary, original, back):
        if back is not None:
            stage = "arrived" if back.state == "broken_off" else "reversed"
        else:
            stage = "failed_over" if original.state == "broken_off" else "protected"
        return {"dr_volume": _key(dr_cluster, dr_path), "primary_volume": _key(*primary), "stage": stage,
                "state": (back or original).state, "healthy": (back or original).healthy, "original": original, "back": back,
                "dr_luns": []}

    def _pair_luns(self, entry):
        """Each LUN of the DR volume with its twin in the primary volume: a mirror keeps the LUNs' names."""
        dr_cluster, dr_svm, dr_name = entry["dr_volume"].split(":", 2)
        primary_cluster, svm, name = entry["primary_volume"].split(":", 2)
        if not entry["dr_luns"]:
            at_dr = self.dr_storage.volume_luns(dr_cluster, dr_svm, dr_name)
            entry["dr_luns"] = [(lun, self._access_path(self.dr_disks, lun)) for lun in at_dr]
        try:
            twins = {lun.path.rsplit("/", 1)[-1].lower(): lun for lun in self.primary_storage.volume_luns(primary_cluster, svm, name)}
        except SmhvError as error:
            if error.code != "STORAGE_OBJECT_NOT_FOUND":
                raise
            twins = {}  # a rebuilt site: the volume comes with the new relationship
        entry["luns"] = []
        for lun, dr_path in entry["dr_luns"]:
            twin = twins.get(lun.path.rsplit("/", 1)[-1].lower())
            entry["luns"].append({"dr_lun": lun, "dr_access_path": dr_path, "primary_lun": twin,
                                  "primary_access_path": self._access_path(self.primary_disks, twin) if twin else None})

    @staticmethod
    def _access_path(disks, lun):
        disk = disks.get(lun.serial) if lun is not None else None
        if disk and disk["online"] and disk["access_paths"]:
            return with_separator(disk["access_paths"][0])
        return None

    def path_pairs(self, path_map=None, recorded=None):
        """[(DR access path, primary access path)]: `path_map` first, then the mount point of each LUN's twin: where the
        primary host has it connected now, else where the primary's backups recorded its files (`recorded`: {serial:
        root}; stable while a failback that stopped has the LUN disconnected), else the same access path as at the DR site."""
        pairs = path_pairs(path_map)
        given = set(old.lower() for old, _new in pairs)
        for entry in self.entries:
            for lun in entry["luns"]:
                if lun["dr_access_path"] and lun["dr_access_path"].lower() not in given:
                    given.add(lun["dr_access_path"].lower())
                    twin = lun["primary_lun"]
                    before = (recorded or {}).get(twin.serial) if twin is not None else None
                    pairs.append((lun["dr_access_path"], lun["primary_access_path"] or before or lun["dr_access_path"]))
        return pairs


def rehome_members(catalog, datasets, vm_ids, scope):
    """Make `scope` the scope of the members `vm_ids` of `datasets` in `catalog` (the VMs moved site): a backup of a dataset
    takes the members of the scope it runs on. The datasets changed."""
    changed = []
    for name in datasets:
        versioned = catalog.get_dataset(name)
        if versioned is None:
            continue
        record = versioned.record
        if not any(member.vm_id in vm_ids and member.scope != scope for member in record.members):
            continue
        members = tuple(dataclasses.replace(member, scope=scope) if member.vm_id in vm_ids else member for member in record.members)
        catalog.put_dataset(dataclasses.replace(record, members=members), expected_sha256=versioned.sha256)
        changed.append(name)
    return changed


def public_entry(entry, action):
    return {"dr_volume": entry["dr_volume"], "primary_volume": entry["primary_volume"], "stage": entry["stage"], "state": entry["state"],
            "action": action,
            "luns": [{"dr_lun": "%s:%s" % (lun["dr_lun"].cluster, lun["dr_lun"].path), "dr_access_path": lun["dr_access_path"],
                      "primary_lun": "%s:%s" % (lun["primary_lun"].cluster, lun["primary_lun"].path) if lun["primary_lun"] else None}
                     for lun in entry["luns"]]}


def require_entries(entries, where, hint):
    if not entries:
        raise SmhvError("FAILBACK_NOT_READY", "No volume of a failover's round trip was found: %s. %s" % (where, hint), {})
