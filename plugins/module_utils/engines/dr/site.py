# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR site's storage: only the storage systems of the DR site, and the few ONTAP calls DR needs beyond StorageClient.

In an unplanned failover the primary site does not answer, and a client that asked it anything would wait for its
timeouts on every lookup across clusters (StorageClient searches every configured cluster). `dr_systems()` keeps only
the entries of `storage_systems` that `dr_storage_systems` names (by hostname, or hostname:port), so no request can go
to the primary site: a cluster that is not configured is never contacted.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import VOLUME_FIELDS, StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import HAS_NETAPP_ONTAP, fetch
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.san import LUN_FIELDS, lun_ref

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import Igroup, Lun, Volume

SMHV_LUN_PREFIX = "smhv_"  # clones the collection makes (restore, mount, drill): never a protected LUN


def _names(system):
    port = system.get("port") or 443
    return {system["hostname"].lower(), ("%s:%s" % (system["hostname"], port)).lower()}


def dr_systems(storage_systems, dr_storage_systems, unplanned):
    """The storage systems to talk to. `dr_storage_systems` (hostnames or hostname:port) selects the DR site's entries;
    without it every entry is taken, which an unplanned failover refuses when there are several (one of them would be
    the primary's, asked and waited for)."""
    if not dr_storage_systems:
        if unplanned and len(storage_systems or []) > 1:
            raise SmhvError("INVALID_ARGUMENT", "An unplanned failover talks to the DR site's storage only: storage_systems has %d entries, "
                            "so name the DR site's in dr_storage_systems (hostname or hostname:port), and the primary's are never "
                            "contacted." % len(storage_systems), {"storage_systems": [s["hostname"] for s in storage_systems]})
        return list(storage_systems or [])
    wanted = set(name.lower() for name in dr_storage_systems)
    chosen = [system for system in storage_systems or [] if _names(system) & wanted]
    unknown = sorted(name for name in wanted if not any(name in _names(system) for system in storage_systems or []))
    if unknown or not chosen:
        raise SmhvError("INVALID_ARGUMENT", "dr_storage_systems names %s, which no entry of storage_systems is (give the hostname, or "
                        "hostname:port, of an entry)." % ", ".join(unknown or sorted(wanted)), {"dr_storage_systems": sorted(wanted)})
    return chosen


class DrStorage(StorageClient):
    """StorageClient over the DR site's systems, plus listings by volume, all relationships of the site, and FlexClones."""

    def relationships(self):
        """Every SnapMirror relationship whose destination is on a configured (DR) cluster: one query per cluster."""
        return self.snapmirror.find(destination_path="*")

    def find_volumes(self, pattern):
        """VolumeInfo of the volumes whose name matches `pattern` (an ONTAP query such as 'smhv_drill_hv03_*') on every
        configured cluster."""
        reachable, errors = self._clusters.reachable()
        if not reachable:
            raise errors[0]
        found = []
        for endpoint, identity in reachable:
            with endpoint.call("list volumes named %s" % pattern):
                found.extend(self._volume_info(identity.name, record) for record in fetch(Volume, name=pattern, fields=VOLUME_FIELDS))
        return sorted(found, key=lambda volume: (volume.cluster, volume.name))

    def volume_luns(self, cluster, svm, volume_name):
        """LunRefs of the LUNs in a volume, the collection's own clones left out."""
        endpoint = self._clusters.endpoint(cluster)
        with endpoint.call("list the LUNs of volume %s:%s" % (svm, volume_name)):
            records = fetch(Lun, fields=LUN_FIELDS, **{"svm.name": svm, "location.volume.name": volume_name})
        luns = [lun_ref(cluster, record) for record in records]
        return sorted((lun for lun in luns if not lun.path.rsplit("/", 1)[-1].startswith(SMHV_LUN_PREFIX)), key=lambda lun: lun.path)

    def clone_volume(self, parent, snapshot, name):
        """A FlexClone `name` of volume `parent` (VolumeInfo) at `snapshot`: a SnapMirror destination stays a destination, and
        its relationship keeps updating (the clone holds the snapshot busy until it is deleted)."""
        endpoint = self._clusters.endpoint(parent.cluster)
        clone = Volume(name=name, svm={"name": parent.svm},
                       clone={"parent_volume": {"name": parent.name}, "parent_snapshot": {"name": snapshot.name}, "is_flexclone": True})
        with endpoint.call("create FlexClone %s of volume %s at snapshot '%s'" % (name, parent.path, snapshot.name)):
            clone.post()
        return self.get_volume(parent.cluster, parent.svm, name)

    def delete_volume(self, volume):
        """Take a volume (a FlexClone of ours) offline and delete it; False when it was gone already."""
        endpoint = self._clusters.endpoint(volume.cluster)
        try:
            with endpoint.call("delete volume %s" % volume.path):
                record = Volume(uuid=volume.uuid)
                record.state = "offline"
                record.patch()
                Volume(uuid=volume.uuid).delete()
        except SmhvError as error:
            if error.code != "STORAGE_OBJECT_NOT_FOUND":
                raise
            return False
        return True

    def delete_igroup(self, igroup):
        endpoint = self._clusters.endpoint(igroup.cluster)
        with endpoint.call("delete igroup '%s' of SVM %s" % (igroup.name, igroup.svm)):
            Igroup(uuid=igroup.uuid).delete()
