# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SAN operations of StorageClient (`client.san`): LUN clones from snapshots, igroups, LUN maps.

These are what mounting a backup and file-level restore need: a snapshot's LUN cloned next to its
source, presented to a Hyper-V host through an igroup holding the host's initiators, and removed
again afterwards (a LUN clone keeps its source snapshot busy until it is deleted).
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import HAS_NETAPP_ONTAP, dig, fetch
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.licences import explained_by_licence
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import IgroupRef, LunMapping, LunRef

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import Igroup, IgroupInitiator, Lun, LunMap

LUN_FIELDS = "uuid,name,serial_number,os_type,space.size,svm.name,location.volume.name,location.volume.uuid"
IGROUP_FIELDS = "uuid,name,os_type,initiators.name"
LUN_MAP_EXISTS = 5374922


def lun_ref(cluster, record):
    """LunRef from a LUN record read with LUN_FIELDS."""
    return LunRef(cluster=cluster, svm=dig(record, "svm.name"), volume_name=dig(record, "location.volume.name"),
                  volume_uuid=dig(record, "location.volume.uuid"), lun_uuid=record["uuid"], path=record["name"],
                  serial=record["serial_number"], size=int(dig(record, "space.size", 0)),
                  os_type=record.get("os_type", ""))


def snapshot_lun_path(snapshot, lun):
    """Where ONTAP shows `lun` inside `snapshot`: /vol/<volume>/.snapshot/<snapshot>/<path in volume>."""
    prefix = "/vol/%s/" % lun.volume_name
    if not lun.path.startswith(prefix) or snapshot.volume_uuid != lun.volume_uuid:
        raise SmhvError("INVALID_ARGUMENT", "LUN %s is not in volume %s of snapshot '%s'."
                        % (lun.path, snapshot.volume_path, snapshot.name))
    return "%s.snapshot/%s/%s" % (prefix, snapshot.name, lun.path[len(prefix):])


def _initiators(record):
    return {item["name"] for item in record.get("initiators") or []}


def _igroup_ref(cluster, svm, record):
    return IgroupRef(cluster=cluster, svm=svm, name=record["name"], uuid=record["uuid"],
                     os_type=record.get("os_type", ""), initiators=tuple(sorted(_initiators(record))))


class SanOperations:
    """LUN clones, LUN deletion, igroups and LUN maps on the clusters of a ClusterRegistry."""

    def __init__(self, clusters):
        self._clusters = clusters

    def clone_lun(self, snapshot, lun, clone_name):
        """A new LUN /vol/<volume>/<clone_name> holding `lun` as it was in `snapshot` (same volume,
        new serial number). The clone keeps the snapshot busy until delete_lun() removes it."""
        endpoint = self._clusters.endpoint(lun.cluster)
        path = "/vol/%s/%s" % (lun.volume_name, clone_name)
        clone = Lun(svm={"name": lun.svm}, name=path, clone={"source": {"name": snapshot_lun_path(snapshot, lun)}})
        action = "clone LUN %s from snapshot '%s' as %s" % (lun.path, snapshot.name, path)
        with explained_by_licence(endpoint, "flexclone", action), endpoint.call(action):
            clone.post()
            record = fetch(Lun, uuid=clone.uuid, fields=LUN_FIELDS)[0]
        return lun_ref(lun.cluster, record)

    def delete_lun(self, lun, allow_mapped=False):
        endpoint = self._clusters.endpoint(lun.cluster)
        query = {"allow_delete_while_mapped": "true"} if allow_mapped else {}
        with endpoint.call("delete LUN %s in SVM %s" % (lun.path, lun.svm)):
            Lun(uuid=lun.lun_uuid).delete(**query)

    def ensure_igroup(self, cluster, svm, name, initiators, os_type="hyper_v", protocol="iscsi"):
        """An igroup of `svm` that holds every initiator in `initiators` (iSCSI IQNs or FC WWPNs).

        An existing igroup holding them all is used whatever its name (hosts are often set up by
        hand); else the igroup `name` gets the missing initiators; else `name` is created.
        """
        endpoint = self._clusters.endpoint(cluster)
        wanted = sorted(set(initiators))
        with endpoint.call("list igroups of SVM %s" % svm):
            groups = fetch(Igroup, fields=IGROUP_FIELDS, **{"svm.name": svm})
        for group in groups:
            if set(wanted) <= _initiators(group):
                return _igroup_ref(cluster, svm, group)
        named = next((group for group in groups if group["name"] == name), None)
        if named is not None:
            with endpoint.call("add initiators to igroup '%s' of SVM %s" % (name, svm)):
                for initiator in sorted(set(wanted) - _initiators(named)):
                    IgroupInitiator(named["uuid"], name=initiator).post()
            return _igroup_ref(cluster, svm, dict(named, initiators=[
                {"name": initiator} for initiator in _initiators(named) | set(wanted)]))
        group = Igroup(svm={"name": svm}, name=name, os_type=os_type, protocol=protocol,
                       initiators=[{"name": initiator} for initiator in wanted])
        with endpoint.call("create igroup '%s' in SVM %s" % (name, svm)):
            group.post()
        return IgroupRef(cluster=cluster, svm=svm, name=name, uuid=group.uuid, os_type=os_type,
                         initiators=tuple(wanted), created=True)

    def map_lun(self, lun, igroup, lun_id=None):
        """Map `lun` to `igroup` (ONTAP picks the lowest free LUN id unless `lun_id` is given);
        an existing map is returned as it is, with created=False."""
        endpoint = self._clusters.endpoint(lun.cluster)
        mapping = LunMap(svm={"name": lun.svm}, lun={"uuid": lun.lun_uuid}, igroup={"uuid": igroup.uuid})
        if lun_id is not None:
            mapping.logical_unit_number = lun_id
        created = True
        try:
            with endpoint.call("map LUN %s to igroup '%s'" % (lun.path, igroup.name)):
                mapping.post()
        except SmhvError as error:
            if error.details.get("ontap_code") != LUN_MAP_EXISTS:
                raise
            created = False
        with endpoint.call("read the map of LUN %s to igroup '%s'" % (lun.path, igroup.name)):
            record = fetch(LunMap, fields="logical_unit_number", **{"lun.uuid": lun.lun_uuid, "igroup.uuid": igroup.uuid})[0]
        return LunMapping(lun=lun, igroup=igroup, lun_id=int(record["logical_unit_number"]), created=created)

    def unmap_lun(self, lun, igroup):
        """Remove the map of `lun` to `igroup`; False when there was none."""
        endpoint = self._clusters.endpoint(lun.cluster)
        try:
            with endpoint.call("unmap LUN %s from igroup '%s'" % (lun.path, igroup.name)):
                LunMap(lun={"uuid": lun.lun_uuid}, igroup={"uuid": igroup.uuid}).delete()
        except SmhvError as error:
            if error.code != "STORAGE_OBJECT_NOT_FOUND":
                raise
            return False
        return True

    # -- lookups (smhv_mount) ----------------------------------------------------------------------
    def find_lun(self, cluster, svm, path):
        """The LunRef of LUN `path` (/vol/<volume>/<name>) in `svm`, or None."""
        endpoint = self._clusters.endpoint(cluster)
        with endpoint.call("look up LUN %s in SVM %s" % (path, svm)):
            records = fetch(Lun, name=path, fields=LUN_FIELDS, **{"svm.name": svm})
        return lun_ref(cluster, records[0]) if records else None
