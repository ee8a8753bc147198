# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The first phases of a failover (failover.py), which a drill shares: discover the DR site and the source scope's
newest SnapInfo snapshot there, then bring that SnapInfo to the DR host (break its mirror, connect its LUN, restore it,
register the DR host with it); a DR host that already has it skips the second.

An active DR scope (registered with a SnapInfo of its own that holds a catalog) keeps its registration and its catalog:
the primary's SnapInfo is connected at `snapinfo_path`, on another disk, restored there, and recorded in the DR scope's
catalog as imported (catalog/imports.py), which is how smhv_backup_info of the DR scope lists the primary's backups."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import ImportedCatalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo as snapinfo_ops
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr import plan as dr_plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.cluster import is_csv_path, is_drive_letter
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import SNAPINFO_PREFIX, snapinfo_host
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import with_separator
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import register

ISCSI_SERVICE = "MSiSCSI"


class DiscoverSteps:
    """Phases discover and snapinfo of FailoverEngine, and the initiator and LUN connection the later phases reuse."""

    def _discover(self, snapinfo_lun):
        self.facts = self.session.facts
        if self.on_cluster:
            self._node_facts()
        self.relationships = self.storage.relationships()
        self.disks = {disk["serial"]: disk for disk in self.host.call("disk_rescan", {}, True).result["disks"]}
        host = snapinfo_host(self.source_scope)
        found = []
        for relationship in self.relationships:
            svm, name = relationship.destination_path.split(":", 1)
            volume = self.storage.get_volume(relationship.cluster, svm, name)
            ours = snapinfo_ops.snapinfo_snapshots(self.storage, volume, self.source_scope)
            if ours:
                found.append((relationship, volume, ours))
        if len(found) != 1:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "%s SnapMirror destination volume on the DR site's clusters holds SnapInfo snapshots of "
                            "%s (%s%s_<time>)%s." % ("No" if not found else "More than one", self.source_scope, SNAPINFO_PREFIX, host,
                                                     ": " + ", ".join(v.path for _r, v, _s in found) if found else
                                                     "; mirror the SnapInfo volume with its snapshots, and name the DR site's clusters in "
                                                     "dr_storage_systems"), {"source_scope": self.source_scope})
        relationship, volume, ours = found[0]
        luns = self.storage.volume_luns(volume.cluster, volume.svm, volume.name)
        if snapinfo_lun:
            chosen = [lun for lun in luns if lun.path.lower() == snapinfo_lun.lower()]
        elif len(luns) == 1:
            chosen = luns
        else:
            chosen = [lun for lun in luns if host in lun.path.rsplit("/", 1)[-1].lower()]
        if len(chosen) != 1:
            raise SmhvError("INVALID_ARGUMENT", "SnapInfo volume %s on %s holds LUNs %s: name the one of %s in snapinfo_lun." % (
                volume.path, volume.cluster, ", ".join(lun.path for lun in luns), self.source_scope), {"luns": [lun.path for lun in luns]})
        lun = chosen[0]
        connected = self.disks.get(lun.serial)
        present = bool(connected and connected["online"] and any(
            with_separator(path).lower() == self.snapinfo_root.lower() for path in connected["access_paths"]))
        own_path = (self.session.registration()["snapinfo_path"] or "").rstrip("\\")
        self.dr_catalog = self._own_catalog(own_path)
        if self.dr_catalog is not None:  # an active DR scope: the primary's SnapInfo is there when its catalog is imported
            imported = self.dr_catalog.get_import(self.source_scope)
            registered = present and imported is not None and imported.snapinfo_path.rstrip("\\").lower() == self.snapinfo_path.lower()
        else:
            registered = present and own_path.lower() == self.snapinfo_path.lower()
        snapshot = ours[-1][0]
        self.snapinfo = {"present": registered, "relationship": relationship, "volume_ref": volume, "lun_ref": lun, "snapshot_ref": snapshot}
        self.snapinfo_plan = {"source": relationship.source_path, "destination": "%s:%s" % (relationship.cluster, relationship.destination_path),
                              "state": relationship.state, "lun": "%s:%s" % (lun.cluster, lun.path), "snapshot": snapshot.name,
                              "snapshot_time": ours[-1][1].isoformat(), "access_path": self.snapinfo_root, "path": self.snapinfo_path,
                              "action": "none" if registered else "restore",
                              "beside": own_path if self.dr_catalog is not None else None}

    def _own_catalog(self, own_path):
        """The DR scope's own catalog when it is registered with a SnapInfo other than `snapinfo_path` that holds one (an
        active DR site): the primary's SnapInfo then comes in beside it instead of replacing its registration; else None."""
        if not own_path or own_path.lower() == self.snapinfo_path.lower():
            return None
        catalog = Catalog(HostRepository(self.host, own_path))
        try:
            catalog.scope()
        except SmhvError as error:
            if error.code != "SCOPE_NOT_REGISTERED":
                raise
            return None  # a registration without a catalog: the failover registers the DR scope with the primary's, as before
        return catalog

    def _require_separate_disk(self):
        """The primary's SnapInfo LUN comes in beside the DR scope's own SnapInfo: never at the disk that one is on."""
        own_path = self.snapinfo_plan["beside"]
        own_root = dr_plan.volume_root(own_path + "\\") if own_path else None
        if own_root and own_root.lower() == self.snapinfo_root.lower():
            raise SmhvError("INVALID_ARGUMENT", "%s is registered with its own SnapInfo at %s: the SnapInfo of %s is brought in beside it, "
                            "on another disk, so snapinfo_path %s must be on another drive letter or CSV than %s." % (
                                self.session.name, own_path, self.source_scope, self.snapinfo_path, own_root),
                            {"snapinfo_path": self.snapinfo_path, "dr_snapinfo_path": own_path})

    # -- snapinfo -----------------------------------------------------------------------------------
    def _bring_snapinfo(self):
        if self.snapinfo["present"]:
            return
        self._break_one(self.snapinfo["relationship"])
        self._ensure_initiator()
        lun = self.snapinfo["lun_ref"]
        self._map_and_connect(lun, self.snapinfo_root)
        restored = snapinfo_ops.restore(self.session, self.storage, snapshot=self.snapinfo["snapshot_ref"].name,
                                        snapinfo_path=self.snapinfo_path, source_scope=self.source_scope)
        self.warnings.extend(restored["warnings"])
        if self.dr_catalog is not None:
            self.dr_catalog.put_import(ImportedCatalog(source_scope=self.source_scope, snapinfo_path=self.snapinfo_path,
                                                       lun=self.snapinfo_plan["lun"], snapshot=self.snapinfo_plan["snapshot"], imported=self.clock()))
            return
        outcome = register(self.session, self.storage, self.snapinfo_path, self.report_path)
        self.warnings.extend(outcome["warnings"])

    def _ensure_initiator(self):
        if self.on_cluster:
            self._ensure_cluster_initiators()
            return
        service = next((s for s in self.facts["services"] if s["name"].lower() == ISCSI_SERVICE.lower()), None)
        if service is not None and service["status"] != "Running":
            self.host.call("prerequisites_ensure", {"features": [], "services": [ISCSI_SERVICE]})
            self.facts = self.host.call("host_facts").result

    def _connected_at(self, lun, access_path):
        disk = self.disks.get(lun.serial)
        return bool(disk and disk["online"] and any(with_separator(p).lower() == access_path.lower() for p in disk["access_paths"]))

    def _map_and_connect(self, lun, access_path):
        if self._connected_at(lun, access_path):
            return False
        if self.on_cluster and (is_csv_path(access_path) or is_drive_letter(access_path)):
            self._present_to_cluster(lun, access_path)
            return True
        igroup = host_igroup(self.storage, lun, self.facts)
        self.storage.san.map_lun(lun, igroup)
        reply = self.host.call("disk_connect", {"serial": lun.serial, "access_path": access_path}).result
        self.disks[lun.serial] = reply["disk"]
