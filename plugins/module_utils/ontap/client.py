# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""StorageClient: what the engines ask of ONTAP, over the netapp-ontap library, on several clusters.

    client = StorageClient(module.params["storage_systems"])
    luns = client.find_luns_by_serials(serials)             # {serial: LunRef}, one query per cluster
    volumes = client.get_volumes("c1", {lun.volume_uuid for lun in luns.values()})
    taken = client.create_snapshots(volumes, "ds_11-25-2026_12.00.00", snapmirror_label="daily")
    client.delete_snapshots(taken.snapshots)                # rollback: reports busy ones, never raises
    client.san.clone_lun(snapshot, lun, "lun1_mount")        # LUN clones, igroups, LUN maps
    client.snapmirror.update(client.snapmirror.find(source_path="vs0:v1")[0])

Objects in and out are the dataclasses of ontap_models; every failure is an SmhvError whose message
names the cluster and object (see ontap_connection). Calls are batched where the engines loop over
many objects, because a backup's cost is counted in ONTAP calls: `call_counts()` reports them.
The client is safe to share between threads: each thread talks to each cluster on its own connection.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import (
    HAS_NETAPP_ONTAP, ClusterRegistry, dig, fetch, parse_time)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.licences import explained_by_licence, read_licence_packages
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import (
    LARGE_SNAPSHOT_LIMIT_VERSION, SnapshotDeletion, SnapshotInfo, SnapshotSet, VolumeInfo)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.san import LUN_FIELDS, SanOperations, lun_ref
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.snapmirror import SnapMirrorOperations

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import CLI, ConsistencyGroup, ConsistencyGroupSnapshot, Lun, Snapshot, Volume

# ONTAP error codes this module expects and turns into their own SmhvError codes.
DUPLICATE_ENTRY = 1
SNAPSHOT_BUSY = 1638555
CG_SNAPSHOT_EXISTS = 53411921
SNAPSHOT_CODES = {DUPLICATE_ENTRY: "SNAPSHOT_EXISTS", CG_SNAPSHOT_EXISTS: "SNAPSHOT_EXISTS",
                  SNAPSHOT_BUSY: "SNAPSHOT_BUSY"}

VOLUME_FIELDS = ("uuid,name,svm.name,type,state,snapshot_count,space.size,space.available,"
                 "clone.is_flexclone,clone.parent_volume.name,clone.parent_snapshot.name")
SNAPSHOT_FIELDS = "uuid,name,create_time,comment,snapmirror_label,expiry_time,owners"
# Serials (12 characters) or uuids (36) per `a|b|c` query: keeps the URL well under 8 KB.
VALUES_PER_QUERY = 150
# A consistency group made only to take one CG snapshot, deleted right after.
TEMPORARY_CG_PREFIX = "smhv_tmp_"


def _in_another_group(group, cluster):
    return ("volumes of consistency group '%s' on cluster '%s' cannot join another one: one snapshot per volume instead "
            "of a consistency-group snapshot" % (group, cluster))


def in_chunks(values, size=VALUES_PER_QUERY):
    values = list(values)
    return [values[start:start + size] for start in range(0, len(values), size)]


class StorageClient:
    """ONTAP operations on every cluster of `storage_systems` (common.storage_argument_spec).

    Clusters are addressed by their ONTAP cluster name (a configured hostname also works); each is
    identified by GET /api/cluster on first use. `san` holds LUN clones, igroups and LUN maps;
    `snapmirror` holds SnapMirror/SnapVault relationships and transfers.
    """

    def __init__(self, storage_systems):
        self._clusters = ClusterRegistry(storage_systems)
        self.san = SanOperations(self._clusters)
        self.snapmirror = SnapMirrorOperations(self._clusters)
        self._licences = {}  # cluster name -> {package: state}, read once per client (one run)

    # -- clusters -------------------------------------------------------------------------------
    def clusters(self):
        """ClusterIdentity of every configured system (raises if one cannot be reached)."""
        return self._clusters.identities()

    def reachable_clusters(self):
        """([ClusterIdentity of each system that answered], [the SmhvError of each that did not]): every configured
        system asked who it is, once per client (the identity later calls use), none of them raising."""
        found, errors = self._clusters.reachable()
        return [identity for _endpoint, identity in found], errors

    def cluster_for(self, name):
        """ClusterIdentity of the cluster called `name` (or configured with that hostname)."""
        return self._clusters.endpoint(name).identity()

    def call_counts(self):
        """{cluster name: REST requests sent}, job polls included; benchmarks report these."""
        return self._clusters.call_counts()

    def licence_packages(self, cluster):
        """{package name: state} of the licences installed on `cluster` (ONTAP lists only licensed packages by default),
        read once per client: a run asks each cluster once however many checks it makes."""
        name = self.cluster_for(cluster).name
        if name not in self._licences:
            self._licences[name] = read_licence_packages(self._clusters.endpoint(cluster))
        return dict(self._licences[name])

    def snapshot_limit(self, volume):
        """Most snapshots `volume` can hold on its cluster's ONTAP version (255 before 9.4, else
        1023; one less, or four less, on a SnapMirror destination, as the NetApp KB says)."""
        if self.cluster_for(volume.cluster).version < LARGE_SNAPSHOT_LIMIT_VERSION:
            return 254 if volume.is_mirror_destination else 255
        return 1019 if volume.is_mirror_destination else 1023

    # -- LUNs -----------------------------------------------------------------------------------
    def find_luns_by_serials(self, serials):
        """{serial: LunRef} for the serials found on any configured cluster; absent serials are
        not ONTAP LUNs (the engine decides). One query per cluster and VALUES_PER_QUERY serials,
        and clusters after the last serial is found are not asked. A cluster that cannot be reached
        is an error only when some serial was not found elsewhere."""
        wanted = list(OrderedDict.fromkeys(serials))
        found = {}
        reachable, errors = self._clusters.reachable()
        for endpoint, identity in reachable:
            missing = [serial for serial in wanted if serial not in found]
            if not missing:
                break
            for chunk in in_chunks(missing):
                with endpoint.call("look up %d LUNs by serial number" % len(chunk)):
                    for record in fetch(Lun, serial_number="|".join(chunk), fields=LUN_FIELDS):
                        found[record["serial_number"]] = lun_ref(identity.name, record)
        missing = [serial for serial in wanted if serial not in found]
        if missing and errors:
            errors[0].details["serials_not_found"] = missing
            raise errors[0]
        return found

    def find_lun_by_serial(self, serial):
        """The LunRef with this serial; LUN_NOT_FOUND names every cluster searched."""
        found = self.find_luns_by_serials([serial])
        if serial not in found:
            names = ", ".join(identity.name for identity in self._clusters.identities())
            raise SmhvError("LUN_NOT_FOUND", "No LUN with serial number '%s' on the configured ONTAP clusters (%s). "
                            "The disk is not an ONTAP LUN, or its cluster is missing from storage_systems."
                            % (serial, names), {"serial": serial})
        return found[serial]

    # -- volumes --------------------------------------------------------------------------------
    def get_volume(self, cluster, svm, name):
        endpoint = self._clusters.endpoint(cluster)
        with endpoint.call("read volume %s:%s" % (svm, name)):
            records = fetch(Volume, name=name, fields=VOLUME_FIELDS, **{"svm.name": svm})
        if not records:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "ONTAP cluster %s has no volume %s:%s."
                            % (endpoint.label, svm, name), {"cluster": cluster, "svm": svm, "volume": name})
        return self._volume_info(cluster, records[0])

    def get_volumes(self, cluster, uuids):
        """VolumeInfo for each volume uuid, in one query per VALUES_PER_QUERY uuids."""
        endpoint = self._clusters.endpoint(cluster)
        wanted = list(OrderedDict.fromkeys(uuids))
        by_uuid = {}
        for chunk in in_chunks(wanted):
            with endpoint.call("read %d volumes" % len(chunk)):
                for record in fetch(Volume, uuid="|".join(chunk), fields=VOLUME_FIELDS):
                    by_uuid[record["uuid"]] = self._volume_info(cluster, record)
        missing = [uuid for uuid in wanted if uuid not in by_uuid]
        if missing:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "ONTAP cluster %s has no volume with uuid %s."
                            % (endpoint.label, ", ".join(missing)), {"cluster": cluster, "volume_uuids": missing})
        return [by_uuid[uuid] for uuid in wanted]

    @staticmethod
    def _volume_info(cluster, record):
        return VolumeInfo(cluster=cluster, svm=dig(record, "svm.name"), name=record["name"], uuid=record["uuid"],
                          type=record.get("type", "rw"), state=record.get("state", "online"),
                          snapshot_count=int(record.get("snapshot_count", 0)), size=int(dig(record, "space.size", 0)),
                          available=int(dig(record, "space.available", 0)),
                          is_flexclone=bool(dig(record, "clone.is_flexclone", False)),
                          clone_parent_volume=dig(record, "clone.parent_volume.name"),
                          clone_parent_snapshot=dig(record, "clone.parent_snapshot.name"))

    # -- snapshots ------------------------------------------------------------------------------
    def list_snapshots(self, volume, name_pattern=None):
        """Snapshots of `volume`, oldest first; `name_pattern` is an ONTAP query such as 'ds1_*'."""
        endpoint = self._clusters.endpoint(volume.cluster)
        query = {"fields": SNAPSHOT_FIELDS}
        if name_pattern:
            query["name"] = name_pattern
        with endpoint.call("list snapshots of volume %s" % volume.path):
            records = [self._snapshot_info(volume, record) for record in fetch(Snapshot, volume.uuid, **query)]
        return sorted(records, key=lambda snap: (snap.create_time is None, snap.create_time))

    @staticmethod
    def _snapshot_info(volume, record):
        return SnapshotInfo(cluster=volume.cluster, svm=volume.svm, volume_name=volume.name, volume_uuid=volume.uuid,
                            name=record["name"], uuid=record["uuid"], create_time=parse_time(record.get("create_time")),
                            comment=record.get("comment", ""), snapmirror_label=record.get("snapmirror_label", ""),
                            expiry_time=parse_time(record.get("expiry_time")), owners=tuple(record.get("owners", ())))

    def create_snapshot(self, volume, name, comment="", snapmirror_label="", expiry_time=None):
        """Take one snapshot. A name already in the volume raises SNAPSHOT_EXISTS (callers decide
        whether that is theirs from an earlier attempt)."""
        endpoint = self._clusters.endpoint(volume.cluster)
        snap = Snapshot(volume.uuid, name=name)
        if comment:
            snap.comment = comment
        if snapmirror_label:
            snap.snapmirror_label = snapmirror_label
        if expiry_time is not None:
            snap.expiry_time = expiry_time
        with endpoint.call("create snapshot '%s' of volume %s" % (name, volume.path), SNAPSHOT_CODES):
            snap.post()
        return SnapshotInfo(cluster=volume.cluster, svm=volume.svm, volume_name=volume.name,
                            volume_uuid=volume.uuid, name=name, uuid=getattr(snap, "uuid", None), comment=comment,
                            snapmirror_label=snapmirror_label, expiry_time=expiry_time)

    def create_snapshots(self, volumes, name, comment="", snapmirror_label="", consistency_group=True):
        """One snapshot called `name` in every volume, taken together where ONTAP can.

        Volumes of one SVM are captured by a single consistency-group snapshot when there are several
        and the cluster runs ONTAP >= 9.10.1 (unless consistency_group=False); otherwise, or when a
        volume already belongs to another consistency group, one snapshot per volume. On any failure
        the snapshots this call made are deleted again and the error is raised, with what the
        rollback did in its details.
        """
        groups = OrderedDict()
        for volume in volumes:
            groups.setdefault((volume.cluster, volume.svm), []).append(volume)
        taken, grouped, notes = [], [], []
        try:
            for (cluster, svm), members in groups.items():
                identity = self.cluster_for(cluster)
                snapshots = None
                if consistency_group and len(members) > 1:
                    if identity.supports_cg_snapshots:
                        snapshots, note = self._cg_snapshot(cluster, svm, members, name, comment, snapmirror_label)
                    else:
                        note = ("ONTAP cluster '%s' runs %s, older than 9.10.1: one snapshot per volume instead of a "
                                "consistency-group snapshot" % (cluster, identity.version_text))
                    if note:
                        notes.append(note)
                if snapshots is None:
                    for volume in members:
                        taken.append(self.create_snapshot(volume, name, comment, snapmirror_label))
                else:
                    taken.extend(snapshots)
                    grouped.append("%s/%s" % (cluster, svm))
        except SmhvError as error:
            rollback = self.delete_snapshots(taken)
            error.details["rollback"] = {"deleted": [s.volume_path for s in rollback.deleted],
                                         "left_behind": [pair[0].volume_path for pair in rollback.busy + rollback.failed]}
            raise
        return SnapshotSet(name=name, snapshots=tuple(taken), consistency_groups=tuple(grouped), notes=tuple(notes))

    def _cg_snapshot(self, cluster, svm, volumes, name, comment, snapmirror_label):
        """(snapshots, note) of a CG snapshot of `volumes`, or (None, note) when one is not possible.

        An existing consistency group with exactly these volumes is used as it is. Otherwise a
        temporary one is created and deleted right after (ONTAP keeps the member snapshots), unless a
        volume already belongs to another group: a volume can be in only one. That is looked at again
        when ONTAP refuses the temporary group: a group still being created when the groups were listed
        (the job of a run that was killed) may have landed first, and then holds these volumes."""
        endpoint = self._clusters.endpoint(cluster)
        wanted = {volume.uuid for volume in volumes}
        group, conflict = self._groups_of(endpoint, cluster, svm, wanted)
        if conflict:
            return None, conflict
        temporary = group is None
        if temporary:
            group = ConsistencyGroup(name=TEMPORARY_CG_PREFIX + name, svm={"name": svm}, volumes=[
                {"name": volume.name, "provisioning_options": {"action": "add"}} for volume in volumes])
            try:
                with endpoint.call("create temporary consistency group '%s' in SVM %s" % (group.name, svm)):
                    group.post()
            except SmhvError as error:
                if not error.details.get("ontap_code"):
                    raise  # not ONTAP's answer (unreachable, TLS, a timeout)
                landed, conflict = self._groups_of(endpoint, cluster, svm, wanted)
                if landed is None and conflict is None:
                    raise
                return None, conflict or _in_another_group(landed.name, cluster)
        snapshot = ConsistencyGroupSnapshot(group.uuid, name=name, consistency_type="crash")
        if comment:
            snapshot.comment = comment
        if snapmirror_label:
            snapshot.snapmirror_label = snapmirror_label
        try:
            with endpoint.call("create consistency-group snapshot '%s' of volumes %s" % (
                    name, ", ".join(volume.path for volume in volumes)), SNAPSHOT_CODES):
                snapshot.post()
        finally:
            if temporary:
                self._delete_temporary_cg(endpoint, group)
        return [SnapshotInfo(cluster=cluster, svm=svm, volume_name=volume.name, volume_uuid=volume.uuid, name=name,
                             comment=comment, snapmirror_label=snapmirror_label) for volume in volumes], None

    @staticmethod
    def _groups_of(endpoint, cluster, svm, wanted):
        """(the consistency group of exactly the volume uuids `wanted` or None, a note when one of them is in
        another group and so cannot join a new one, else None)."""
        with endpoint.call("list consistency groups of SVM %s" % svm):
            existing = fetch(ConsistencyGroup, fields="name,uuid,volumes", **{"svm.name": svm})
        group = None
        for candidate in existing:
            members = {volume["uuid"] for volume in candidate.get("volumes") or []}
            if members == wanted:
                group = ConsistencyGroup(uuid=candidate["uuid"], name=candidate["name"])
            elif members & wanted:
                return None, _in_another_group(candidate["name"], cluster)
        return group, None

    @staticmethod
    def _delete_temporary_cg(endpoint, group):
        with endpoint.call("delete temporary consistency group '%s' (keeping its volumes and snapshots); delete it "
                           "by hand if this persists" % group.name):
            group.delete()

    def delete_snapshot(self, snapshot):
        """Delete one snapshot: SNAPSHOT_BUSY when ONTAP refuses because it is in use,
        STORAGE_OBJECT_NOT_FOUND when it is already gone."""
        endpoint = self._clusters.endpoint(snapshot.cluster)
        uuid = snapshot.uuid or self._snapshot_uuid(endpoint, snapshot)
        with endpoint.call("delete snapshot '%s' of volume %s" % (snapshot.name, snapshot.volume_path),
                           SNAPSHOT_CODES):
            Snapshot(snapshot.volume_uuid, uuid=uuid).delete()

    def rename_snapshot(self, snapshot, name, comment=None, snapmirror_label=None):
        """Rename one snapshot (and set its comment and SnapMirror label when given); the renamed SnapshotInfo.
        A name already in the volume raises SNAPSHOT_EXISTS."""
        endpoint = self._clusters.endpoint(snapshot.cluster)
        uuid = snapshot.uuid or self._snapshot_uuid(endpoint, snapshot)
        snap = Snapshot(snapshot.volume_uuid, uuid=uuid)
        # Set after construction: patch() sends only what changed since the object was built, and a
        # name given to the constructor would count as the starting state (an empty PATCH).
        snap.name = name
        if comment is not None:
            snap.comment = comment
        if snapmirror_label is not None:
            snap.snapmirror_label = snapmirror_label
        with endpoint.call("rename snapshot '%s' of volume %s to '%s'" % (snapshot.name, snapshot.volume_path, name), SNAPSHOT_CODES):
            snap.patch()
        return dataclasses.replace(snapshot, name=name, uuid=uuid, comment=snapshot.comment if comment is None else comment,
                                   snapmirror_label=snapshot.snapmirror_label if snapmirror_label is None else snapmirror_label)

    def delete_snapshots(self, snapshots):
        """Delete each snapshot, never raising: busy ones and failures are reported, already-gone
        ones count as deleted. For rollback and retention, which must try them all."""
        deleted, busy, failed = [], [], []
        for snapshot in snapshots:
            try:
                if snapshot.uuid:
                    self.delete_snapshot(snapshot)
                else:
                    self._delete_snapshot_named(snapshot)
            except SmhvError as error:
                if error.code == "STORAGE_OBJECT_NOT_FOUND":
                    deleted.append(snapshot)
                elif error.code == "SNAPSHOT_BUSY":
                    busy.append((snapshot, error))
                else:
                    failed.append((snapshot, error))
            else:
                deleted.append(snapshot)
        return SnapshotDeletion(deleted=tuple(deleted), busy=tuple(busy), failed=tuple(failed))

    def _delete_snapshot_named(self, snapshot):
        """Delete a snapshot known by name only, in one request (DELETE on the volume's snapshots with a name
        query) instead of a lookup and a delete; a name that matches nothing deletes nothing."""
        endpoint = self._clusters.endpoint(snapshot.cluster)
        with endpoint.call("delete snapshot '%s' of volume %s" % (snapshot.name, snapshot.volume_path), SNAPSHOT_CODES):
            Snapshot.delete_collection(snapshot.volume_uuid, name=snapshot.name)

    def _snapshot_uuid(self, endpoint, snapshot):
        with endpoint.call("find snapshot '%s' of volume %s" % (snapshot.name, snapshot.volume_path)):
            records = fetch(Snapshot, snapshot.volume_uuid, name=snapshot.name, fields="uuid")
        if not records:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "Volume %s on ONTAP cluster %s has no snapshot '%s'."
                            % (snapshot.volume_path, endpoint.label, snapshot.name),
                            {"cluster": snapshot.cluster, "volume": snapshot.volume_path, "snapshot": snapshot.name})
        return records[0]["uuid"]

    # -- restore --------------------------------------------------------------------------------
    def restore_volume(self, snapshot):
        """Volume SnapRestore: the whole volume goes back to `snapshot`, and ONTAP deletes every
        newer snapshot of the volume. A newer busy snapshot makes it fail with SNAPSHOT_BUSY."""
        endpoint = self._clusters.endpoint(snapshot.cluster)
        action = "restore volume %s to snapshot '%s'" % (snapshot.volume_path, snapshot.name)
        # The Volume schema has no restore_to field, so an instance patch() would send {}: a query
        # PATCH sends the raw body. A query that matches no volume starts no job and changes nothing.
        with explained_by_licence(endpoint, "snaprestore", action), endpoint.call(action, SNAPSHOT_CODES):
            Volume.patch_collection({"restore_to.snapshot.name": snapshot.name}, uuid=snapshot.volume_uuid)
            started = endpoint.started_jobs()
        if not started:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "Could not %s: ONTAP cluster %s has no volume with uuid %s."
                            % (action, endpoint.label, snapshot.volume_uuid),
                            {"cluster": snapshot.cluster, "volume_uuid": snapshot.volume_uuid})

    def restore_file(self, snapshot, path, restore_path=None):
        """Single-file SnapRestore of one file (a LUN) of the snapshot's volume, in place or to
        `restore_path`; both are paths inside the volume such as '/lun1'. ONTAP has no REST
        resource for it, so this is the CLI passthrough of `volume snapshot restore-file`."""
        endpoint = self._clusters.endpoint(snapshot.cluster)
        body = {"vserver": snapshot.svm, "volume": snapshot.volume_name, "snapshot": snapshot.name, "path": path}
        if restore_path:
            body["restore-path"] = restore_path
        action = "restore file %s of volume %s from snapshot '%s'" % (path, snapshot.volume_path, snapshot.name)
        with explained_by_licence(endpoint, "snaprestore", action), endpoint.call(action):
            CLI().execute("volume snapshot restore-file", body=body)
