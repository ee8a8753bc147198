# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SnapInfo snapshots of a scope: take (and prune, and mirror), list, restore.

SnapInfo is the LUN behind the scope's SnapInfo path. Its snapshots are named as SMHV named them,
``smhv_snapinfo_<scope>_<MM-DD-YYYY_HH.MM.SS>`` (rules_names; the scope is the cluster name for a
cluster), and only snapshots of that exact form and scope count for retention: another scope's
SnapInfo snapshots in the same volume, backups and anything else are never counted nor deleted.

Restore is a single-LUN SnapRestore (ONTAP ``volume snapshot restore-file``) of the SnapInfo LUN,
never a volume SnapRestore: a volume restore would also roll back every other LUN of the volume
(a SnapInfo volume often holds the SnapInfo LUNs of several scopes) and delete every newer
snapshot, SnapMirror's common snapshot included.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import lun_facts, snapinfo_lun
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import SnapshotInfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import (
    SNAPINFO_PREFIX, parse_snapinfo_snapshot_name, snapinfo_host, snapinfo_snapshot_name, utcnow)

SNAPSHOT_COMMENT = "SnapInfo of %s (netapp_hyperv.smhv)"


class SnapInfoLocation:
    """The scope's SnapInfo: its path, the LUN and volume behind it, and the retention count."""

    def __init__(self, session, storage, snapinfo_path=None):
        self.path, self.keep = session.require_registration(snapinfo_path)
        self.lun = snapinfo_lun(session, storage, self.path)
        self.volume = storage.get_volumes(self.lun.cluster, [self.lun.volume_uuid])[0]

    @property
    def lun_in_volume(self):
        """The LUN's path inside its volume ('/snapinfo_hv03'), as restore-file takes it."""
        prefix = "/vol/%s/" % self.lun.volume_name
        return "/" + self.lun.path[len(prefix):] if self.lun.path.startswith(prefix) else self.lun.path

    def facts(self):
        return dict(lun_facts(self.lun, self.volume), snapinfo_path=self.path, snapinfo_snaps_count=self.keep)


def snapinfo_snapshots(storage, volume, scope):
    """[(SnapshotInfo, UTC time)] of `scope`'s SnapInfo snapshots in `volume`, oldest first."""
    host = snapinfo_host(scope)
    ours = []
    for snapshot in storage.list_snapshots(volume, SNAPINFO_PREFIX + host + "_*"):
        parsed = parse_snapinfo_snapshot_name(snapshot.name)
        if parsed is not None and parsed[0] == host:
            ours.append((snapshot, parsed[1]))
    return sorted(ours, key=lambda pair: pair[1])


def snapshot_facts(snapshot, when):
    return {"name": snapshot.name, "time": when.isoformat(),
            "create_time": snapshot.create_time.isoformat() if snapshot.create_time else None,
            "volume": snapshot.volume_path, "cluster": snapshot.cluster, "snapmirror_label": snapshot.snapmirror_label,
            "busy": bool(snapshot.owners)}


def _source_relationships(storage, volume):
    return [relationship for relationship in storage.snapmirror.find(source_path=volume.path)
            if not relationship.source_cluster or relationship.source_cluster == volume.cluster]


def take(session, storage, snapinfo_path=None, retention=None, min_interval=0, snapmirror_update=True, snapmirror_label="",
         check_mode=False, clock=utcnow, location=None):
    """Snapshot the SnapInfo volume (unless the newest is younger than `min_interval` seconds),
    prune to the retention count, and SnapMirror-update the volume's relationships. `location`: the
    SnapInfoLocation if the caller found it already (a backup does, while ONTAP takes its snapshot)."""
    where = location or SnapInfoLocation(session, storage, snapinfo_path)
    keep = retention or where.keep
    now = clock().replace(microsecond=0)
    existing = snapinfo_snapshots(storage, where.volume, session.name)
    actions, warnings, created = [], [], None
    newest = existing[-1] if existing else None
    recent = newest is not None and min_interval > 0 and (now - newest[1]).total_seconds() < min_interval
    name = snapinfo_snapshot_name(session.name, now)
    create = not recent and not any(pair[0].name == name for pair in existing)
    if create:
        actions.append("create snapshot %s of volume %s on %s" % (name, where.volume.path, where.volume.cluster))
        if not check_mode:
            created = storage.create_snapshot(where.volume, name, comment=SNAPSHOT_COMMENT % session.name,
                                              snapmirror_label=snapmirror_label)
        existing.append((created or _planned(where, name, snapmirror_label), now))
    expired = existing[:-keep] if len(existing) > keep else []
    if expired:
        actions.append("delete %d SnapInfo snapshot(s) beyond the %d kept: %s" % (len(expired), keep,
                                                                                  ", ".join(pair[0].name for pair in expired)))
    deleted = []
    if expired and not check_mode:
        outcome = storage.delete_snapshots([pair[0] for pair in expired])
        deleted = [snapshot.name for snapshot in outcome.deleted]
        for snapshot, error in outcome.busy:
            warnings.append("SnapInfo snapshot %s is busy and was kept for now (%s)." % (snapshot.name, error.message))
        for snapshot, error in outcome.failed:
            warnings.append("SnapInfo snapshot %s could not be deleted: %s" % (snapshot.name, error.message))
    elif expired:
        deleted = [pair[0].name for pair in expired]
    transfers = _mirror(storage, where, snapmirror_update and create, check_mode, actions, warnings)
    kept = [snapshot_facts(snapshot, when) for snapshot, when in existing if snapshot.name not in deleted]
    return {"changed": bool(actions), "actions": actions, "warnings": warnings, "snapinfo": where.facts(),
            "snapshot": name if create else None,
            "deleted": deleted, "snapmirror": transfers, "snapshots": kept}


def _planned(where, name, label):
    return SnapshotInfo(cluster=where.volume.cluster, svm=where.volume.svm, volume_name=where.volume.name,
                        volume_uuid=where.volume.uuid, name=name, snapmirror_label=label)


def _mirror(storage, where, wanted, check_mode, actions, warnings):
    """Update every SnapMirror/SnapVault relationship whose source is the SnapInfo volume."""
    if not wanted:
        return []
    transfers = []
    for relationship in _source_relationships(storage, where.volume):
        if relationship.state != "snapmirrored":
            warnings.append("SnapMirror relationship %s -> %s is %s, not snapmirrored: it was not updated." % (
                relationship.source_path, relationship.destination_path, relationship.state))
            continue
        actions.append("SnapMirror update %s -> %s" % (relationship.source_path, relationship.destination_path))
        entry = {"source": relationship.source_path, "destination": relationship.destination_path,
                 "destination_cluster": relationship.cluster, "state": "planned"}
        if not check_mode:
            try:
                result = storage.snapmirror.update(relationship)
            except SmhvError as error:
                raise SmhvError(error.code, "The SnapInfo snapshot was taken, but the SnapMirror update of %s -> %s failed: %s"
                                % (relationship.source_path, relationship.destination_path, error.message),
                                dict(error.details, actions_done=actions)) from None
            entry.update(state=result.state, bytes_transferred=result.bytes_transferred)
        transfers.append(entry)
    return transfers


class SnapInfoStep:
    """A backup's SnapInfo step (BackupEngine calls it): the SnapInfo snapshot named after the backup's time, with its
    mirror updated when the backup's was. prepare() finds the SnapInfo LUN and volume ahead, which the engine does
    while ONTAP takes the backup's snapshot and the coordinator is idle."""

    def __init__(self, session, storage, snapinfo_path):
        self.session = session
        self.storage = storage
        self.path = snapinfo_path
        self.location = None

    def prepare(self):
        if self.location is None:
            self.location = SnapInfoLocation(self.session, self.storage, self.path)

    def __call__(self, when, mirror, check_mode):
        taken = take(self.session, self.storage, self.path, snapmirror_update=mirror, check_mode=check_mode, clock=lambda: when,
                     location=self.location)
        return taken["snapshot"]


def list_snapshots(session, storage, snapinfo_path=None, source_scope=None):
    where = SnapInfoLocation(session, storage, snapinfo_path)
    scope = source_scope or session.name
    snapshots = [snapshot_facts(snapshot, when) for snapshot, when in snapinfo_snapshots(storage, where.volume, scope)]
    relationships = [{"source": r.source_path, "destination": r.destination_path, "destination_cluster": r.cluster,
                      "state": r.state, "healthy": r.healthy, "lag_time": r.lag_time}
                     for r in _source_relationships(storage, where.volume)]
    return {"changed": False, "actions": [], "snapinfo": where.facts(), "snapshots": snapshots, "snapmirror": relationships}


def _choose(storage, where, snapshot, scope):
    ours = snapinfo_snapshots(storage, where.volume, scope)
    if snapshot == "latest":
        if not ours:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "Volume %s on %s has no SnapInfo snapshot of %s (%s%s_<time>). Take one with "
                            "netapp_hyperv.smhv.smhv_snapinfo, or name the snapshot to restore." % (
                                where.volume.path, where.volume.cluster, scope, SNAPINFO_PREFIX, snapinfo_host(scope)),
                            {"volume": where.volume.path, "scope": scope})
        return ours[-1][0]
    found = storage.list_snapshots(where.volume, snapshot)
    if not found:
        raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "Volume %s on %s has no snapshot %s. SnapInfo snapshots of %s there: %s." % (
            where.volume.path, where.volume.cluster, snapshot, scope, ", ".join(pair[0].name for pair in ours[-5:]) or "none"),
            {"volume": where.volume.path, "snapshot": snapshot})
    return found[0]


def restore(session, storage, snapshot="latest", snapinfo_path=None, source_scope=None, check_mode=False):
    """Single-LUN SnapRestore of the SnapInfo LUN from `snapshot` (a name, or 'latest' of `source_scope`),
    then a disk rescan on the coordinating host and a read of the restored scope record."""
    where = SnapInfoLocation(session, storage, snapinfo_path)
    if where.volume.is_mirror_destination:
        raise SmhvError("VOLUME_READ_ONLY", "SnapInfo volume %s on %s is a SnapMirror destination (read-only); break the relationship "
                        "(netapp_hyperv.smhv.smhv_failover does) before restoring SnapInfo." % (where.volume.path, where.volume.cluster),
                        {"volume": where.volume.path, "cluster": where.volume.cluster})
    chosen = _choose(storage, where, snapshot, source_scope or session.name)
    actions = ["restore LUN %s from snapshot %s (single-LUN SnapRestore)" % (where.lun.path, chosen.name),
               "rescan disks on %s" % session.owner.name]
    result = {"changed": True, "actions": actions, "warnings": [], "snapinfo": where.facts(), "restored_from": chosen.name,
              "scope_record": None}
    if check_mode:
        return result
    storage.restore_file(chosen, where.lun_in_volume)
    session.owner.call("disk_rescan")
    try:
        record = Catalog(HostRepository(session.owner, where.path)).scope()
    except SmhvError as error:
        result["warnings"].append("The restored SnapInfo has no readable catalog at %s (%s)." % (where.path, error.message))
    else:
        result["scope_record"] = record.to_dict() if record is not None else None
    return result
