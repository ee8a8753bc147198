# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The first phases of a failover (failover.py), which a drill shares: discover the DR site and the source scope's
newest SnapInfo snapshot there, then bring that SnapInfo to the DR host (break its mirror, connect its LUN, restore it,
register the DR host with it); a DR host that already has it skips the second."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo as snapinfo_ops
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
        registered = present and (self.session.registration()["snapinfo_path"] or "").rstrip("\\").lower() == self.snapinfo_path.lower()
        snapshot = ours[-1][0]
        self.snapinfo = {"present": registered, "relationship": relationship, "volume_ref": volume, "lun_ref": lun, "snapshot_ref": snapshot}
        self.snapinfo_plan = {"source": relationship.source_path, "destination": "%s:%s" % (relationship.cluster, relationship.destination_path),
                              "state": relationship.state, "lun": "%s:%s" % (lun.cluster, lun.path), "snapshot": snapshot.name,
                              "snapshot_time": ours[-1][1].isoformat(), "access_path": self.snapinfo_root, "path": self.snapinfo_path,
                              "action": "none" if registered else "restore"}

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

    def _map_and_connect(self, lun, access_path):
        disk = self.disks.get(lun.serial)
        if disk and disk["online"] and any(with_separator(p).lower() == access_path.lower() for p in disk["access_paths"]):
            return False
        if self.on_cluster and (is_csv_path(access_path) or is_drive_letter(access_path)):
            self._present_to_cluster(lun, access_path)
            return True
        igroup = host_igroup(self.storage, lun, self.facts)
        self.storage.san.map_lun(lun, igroup)
        reply = self.host.call("disk_connect", {"serial": lun.serial, "access_path": access_path}).result
        self.disks[lun.serial] = reply["disk"]
