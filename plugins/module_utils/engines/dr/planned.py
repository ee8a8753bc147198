# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The primary site's part of a planned failover (smhv_failover mode=planned), before the failover proper:

    final_backup  a backup of each dataset whose VMs fail over, with SnapMirror update (and so of the SnapInfo mirror):
                  running VMs application-consistent, VMs already off taken as they are (allow_saved_state)
    shutdown      the VMs shut down (guest shut down) on the scope's hosts
    final_update  every relationship of the backed-up volumes and of the SnapInfo volume updated once more, after the
                  shutdown, waited for

The failover then breaks the relationships and brings each destination to the final backup's snapshot: nothing committed
before the final backup is lost. Nothing here runs when the DR host already has the SnapInfo (a re-run of a failover that
got that far), so a resumed planned failover never takes a second backup nor touches the primary again.
"""

from __future__ import annotations

import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import BackupOptions
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import BackupEngine, SessionScope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import refuse_controller_vms, vms_on
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


class PrimarySite:
    """The source scope at the primary site (`session`, a ScopeSession) and all storage (`storage`, both sites)."""

    def __init__(self, session, storage, lease_ttl=datetime.timedelta(minutes=30)):
        self.session = session
        self.storage = storage
        self.lease_ttl = lease_ttl
        self.path = session.require_registration()[0]
        self.catalog = Catalog(HostRepository(session.owner, self.path))

    def scope_vms(self, datasets=None, vms=None):
        """{dataset: [(vm id, name)]} of the datasets (all by default) holding the VMs (all their members by default)."""
        names = datasets or self.catalog.list_datasets()
        wanted = set(item.lower() for item in vms or [])
        chosen = {}
        for record in self.catalog.get_datasets():
            if record.name not in names:
                continue
            members = [(m.vm_id, m.name) for m in record.members if not wanted or m.vm_id in wanted or m.name.lower() in wanted]
            if members:
                chosen[record.name] = members
        if not chosen:
            raise SmhvError("DATASET_NOT_FOUND", "No dataset of scope %s holds the VMs to fail over (%s)." % (
                self.session.name, ", ".join(vms or []) or "any"), {"datasets": list(names)})
        return chosen

    def prepare(self, chosen, final_backup=True, check_mode=False):
        ids = sorted(set(vm_id for members in chosen.values() for vm_id, _name in members))
        # the shutdown must not stop the VM this controller runs in: refused before the final backup, in check mode too
        refuse_controller_vms(self.session, vms_on(self.session, ids), "planned failover's shutdown")
        actions, backups = [], []
        for dataset in sorted(chosen):
            if final_backup:
                actions.append("back up dataset %s on %s with SnapMirror update (the final backup)" % (dataset, self.session.name))
                if not check_mode:
                    backups.append(self._backup(dataset))
        actions.append("shut down VM(s) %s on %s" % (", ".join(sorted(set(n for m in chosen.values() for _i, n in m))), self.session.name))
        stopped = []
        if not check_mode:
            for outcome in self.session.call_nodes("vm_stop", {"ids": ids}).values():
                if isinstance(outcome, SmhvError):
                    raise outcome
                stopped += [item["name"] for item in outcome.result["vms"]]
        relationships = self._relationships(backups)
        for relationship in relationships:
            actions.append("SnapMirror update %s -> %s after the shutdown" % (relationship.source_path, relationship.destination_path))
        updates = []
        if not check_mode:
            for relationship in relationships:
                result = self.storage.snapmirror.update(relationship)
                updates.append({"source": relationship.source_path, "destination": relationship.destination_path, "state": result.state})
        return {"actions": actions, "final_backups": [b["backup"]["name"] for b in backups], "stopped": sorted(stopped), "updates": updates}

    def _backup(self, dataset):
        lease_catalog = Catalog(HostRepository(self.session.spare_owner(), self.path))
        engine = BackupEngine(SessionScope(self.session), self.storage, self.catalog, snapinfo.SnapInfoStep(self.session, self.storage, self.path),
                              lease_ttl=self.lease_ttl, lease_catalog=lease_catalog, fail_on_replication_error=True)
        options = BackupOptions.on_demand("application", "auto", True, True)
        result = engine.run(dataset, options)
        if result["backup"]["status"] != "ok":
            raise SmhvError("STORAGE_JOB_FAILED", "The final backup of dataset %s failed: %s" % (dataset, result["backup"]), {"dataset": dataset})
        return result

    def _relationships(self, backups):
        """The relationships whose source is a volume the final backups (or the scope's SnapInfo) are on."""
        sources = set()
        for result in backups:
            for snapshot in result.get("snapshots", []):
                if snapshot.get("svm") and snapshot.get("volume"):
                    sources.add("%s:%s" % (snapshot["svm"], snapshot["volume"]))
        where = snapinfo.SnapInfoLocation(self.session, self.storage, self.path)
        sources.add(where.volume.path)
        return [r for r in self.storage.snapmirror.find(source_path=sorted(sources)) if r.state == "snapmirrored"]
