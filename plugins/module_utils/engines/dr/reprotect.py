# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reprotect (smhv_failback action=reprotect): after a failback, back to the original configuration - the seed's steps
after "the VMs are backed up on the primary site": clean the DR site, resync primary -> DR.

Phases (each timed):
    discover   the volumes of the round trip, found from the primary host's disks (failback_sites.py), each one's stage;
               the VMs the primary host runs from them; what of theirs the DR host still has (VMs by id, disks, maps)
    clean      at the DR site: those VMs turned off and removed (on a DR cluster on the node each is registered on, its
               cluster role removed before), the round trip's LUNs disconnected from the DR host (a DR cluster's CSVs and
               cluster disks taken out of the cluster) and unmapped from its igroup (a DR cluster's: every igroup holding a
               node's initiators), every node rescanned, the DR scope's registration removed when its SnapInfo was on one of
               them
    resync     each reversed relationship (DR -> primary, broken off at the primary by the failback) reverse-resynced back
               into primary -> DR (after a rebuilt primary, the failover's relationship from the old volume is deleted
               first): the DR volume loses nothing the VMs still need (they were shut down before the failback's final
               update) and becomes a mirror again
    prove      a backup at the primary site with SnapMirror update of each dataset of those VMs, and its snapshot looked
               for on every DR volume (prove=false: the result says the next scheduled backup with update will)

Journaled in the primary's SnapInfo (active again after the failback) as operation "reprotect" under the lease
"reprotect~<DR host>" (the backup engine takes the primary scope's own lease). The stages come from ONTAP and the DR host,
so a re-run redoes only what is left; the journal keeps the proving backup from being taken twice. A finished reprotect
reports changed=false (and takes no new backup).
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal, recover, register_recovery
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import RoundTrip, client_of, public_entry, require_entries, vms_on
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import refuse_controller_vms
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planned import PrimarySite
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import igroup_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import unregister

OPERATION = "reprotect"


def _resume(journal, context):
    if isinstance(context, ReprotectEngine):
        context.adopted = journal
        return {"resumed": True}
    return {"left": "an interrupted reprotect continues when smhv_failback action=reprotect runs again"}


register_recovery(OPERATION, _resume)


class ProvingSite(PrimarySite):
    """The primary scope taking the backup that proves the mirrors primary -> DR work again."""

    def proving_backup(self, dataset):
        return self._backup(dataset)


class ReprotectEngine(RoundTrip):
    def __init__(self, primary, dr, storage, primary_storage, dr_storage, snapinfo_path, report_path="C:\\SMHV\\Reports",
                 clock=utcnow, monotonic=time.monotonic, lease_ttl=datetime.timedelta(minutes=30)):
        super().__init__(primary, dr, primary_storage, dr_storage)
        self.storage = storage
        self.snapinfo_path = snapinfo_path.rstrip("\\")
        self.report_path = report_path
        self.clock, self.monotonic, self.lease_ttl = clock, monotonic, lease_ttl
        self.adopted = None
        self.phases, self.warnings = [], []

    def run(self, vms=None, datasets=None, prove=True, check_mode=False):
        started = self.monotonic()
        plan = self._phase("discover", self._discover, vms, datasets, prove)
        actions = self._describe(plan)
        result = {"action": "reprotect", "primary": self.primary.name, "dr_host": self.dr.name, "plan": plan, "actions": actions,
                  "resumed": False}
        if check_mode:
            return self._result(result, started, bool(actions))
        catalog = Catalog(HostRepository(self.primary.owner, self.snapinfo_path))
        held = catalog.acquire_lease(self.primary.name, "smhv_failback reprotect of %s to %s" % (self.primary.name, self.dr.name), self.lease_ttl,
                                     name="%s~%s" % (OPERATION, self.dr.name), heartbeat=heartbeat_seconds(self.lease_ttl))
        keeper_catalog = Catalog(HostRepository(self.primary.spare_owner(), self.snapinfo_path))
        with LeaseKeeper(keeper_catalog, held, self.lease_ttl) as keeper:
            recover(catalog, held, self, operations=[OPERATION])
            if not actions and self.adopted is None:
                return self._result(result, started, False)
            journal = self.adopted or OperationJournal.begin(catalog, OPERATION, self.primary.name, held, key=self.dr.name, subject=self.dr.name)
            self.journal, self.keeper = journal, keeper
            result["removed"] = self._phase("clean", self._clean, plan)
            self._phase("resync", self._resync)
            result["proof"] = self._phase("prove", self._prove, plan)
            journal.close()
        result["resumed"] = self.adopted is not None
        return self._result(result, started, True)

    def _phase(self, name, function, *args):
        began = self.monotonic()
        try:
            return function(*args)
        except SmhvError as error:
            error.details.setdefault("phase", name)
            raise
        finally:
            self.phases.append({"phase": name, "seconds": round(self.monotonic() - began, 3)})

    def _result(self, result, started, changed):
        result.update(changed=changed, warnings=list(self.warnings), rto={"total": round(self.monotonic() - started, 3), "phases": list(self.phases)})
        return result

    # -- discover -----------------------------------------------------------------------------------
    def _discover(self, vms, datasets, prove):
        entries = self.survey("primary")
        require_entries(entries, "the primary host %s has no LUN of a volume a SnapMirror relationship joins to the DR site's clusters (%s)"
                        % (self.primary.name, ", ".join(self.dr_clusters)), "Reprotect after smhv_failback brought the VMs back.")
        early = [entry for entry in entries if entry["stage"] in ("failed_over", "reversed")]
        if early:
            raise SmhvError("FAILBACK_NOT_READY", "Volume(s) %s are not failed back yet (%s): run smhv_failback action=failback first." % (
                ", ".join(e["primary_volume"] for e in early), ", ".join(e["stage"] for e in early)), {"volumes": [e["primary_volume"] for e in early]})
        self.site = ProvingSite(self.primary, self.storage, lease_ttl=self.lease_ttl)
        roots = [path for disks in self.primary_volumes_now.values() for _lun, path in disks]
        members = {}
        for dataset, items in sorted(self.site.scope_vms(datasets, vms).items()):
            for vm_id, name in items:
                members.setdefault(vm_id, {"name": name, "dataset": dataset})
        at_primary = self.primary.owner.call("vm_inventory", {"ids": sorted(members), "require_all": False}).result["vms"] if members else []
        ours = {vm["id"]: members[vm["id"]] for vm in at_primary
                if any((vm["config_path"] or "").lower().startswith(root.lower()) for root in roots)}
        at_dr = vms_on(self.dr, ours)
        refuse_controller_vms(self.dr, at_dr, "reprotect (turns off and removes the VM at the DR site)")
        dr_luns = [lun["dr_lun"] for entry in entries for lun in entry["luns"]]
        disks = [{"lun": "%s:%s" % (lun.cluster, lun.path), "serial": lun.serial, "access_paths": self.dr_disks[lun.serial]["access_paths"]}
                 for lun in dr_luns if lun.serial in self.dr_disks and self.dr_disks[lun.serial]["online"]]
        self.maps = self.dr_storage.lun_maps(dr_luns, "|".join(self._dr_igroups(dr_luns))) if dr_luns else []
        maps = [{"lun": "%s:%s" % (lun.cluster, lun.path), "igroup": igroup.name} for lun, igroup in self.maps]
        registration = self.dr.registration()
        snapinfo_here = bool(registration["registered"]) and any(
            (registration["snapinfo_path"] or "").lower().startswith(path.lower().rstrip("\\")) for disk in disks for path in disk["access_paths"])
        moving = any(entry["stage"] == "arrived" for entry in entries)
        datasets_used = sorted(set(item["dataset"] for item in ours.values()))
        return {"mirrors": [public_entry(entry, "reverse_resync" if entry["stage"] == "arrived" else "none") for entry in entries],
                "vms": [{"id": vm_id, "name": item["name"], "dataset": item["dataset"]} for vm_id, item in sorted(ours.items(), key=lambda p: p[1]["name"])],
                "clean": {"vms": sorted(({"id": vm["id"], "name": vm["name"], "state": vm["state"], "clustered": vm["clustered"], "node": vm["node"]}
                                         for vm in at_dr), key=lambda vm: vm["name"]),
                          "disks": disks, "maps": maps, "unregister": self.dr.name if snapinfo_here else None},
                "prove": {"datasets": datasets_used if prove and (moving or self._open_journal()) else [], "enabled": bool(prove)}}

    def _dr_igroups(self, luns):
        """The igroups the round trip's LUNs were presented to the DR host through: smhv_<host> for a standalone host; on a
        DR cluster every igroup of the LUNs' SVMs holding a node's initiators (the failover maps each LUN to all of them)."""
        if self.dr.kind != "cluster":
            return [igroup_name(self.dr.facts["computer_name"])]
        initiators = []
        for node, outcome in self.dr.call_nodes("host_facts").items():
            if isinstance(outcome, SmhvError):
                raise outcome
            initiators.extend(port["node_address"] for port in outcome.result["initiator_ports"])
        names = set()
        for cluster, svm in sorted(set((lun.cluster, lun.svm) for lun in luns)):
            names.update(self.dr_storage.igroups_holding(cluster, svm, initiators))
        return sorted(names) or [igroup_name(self.dr.facts["computer_name"])]

    def _open_journal(self):
        catalog = Catalog(HostRepository(self.primary.owner, self.snapinfo_path))
        return any(v.record.operation == OPERATION and v.record.subject == self.dr.name for v in catalog.list_journals())

    def _describe(self, plan):
        actions = []
        clean = plan["clean"]
        for vm in clean["vms"]:
            actions.append("turn off and remove VM %s (%s) on %s%s" % (vm["name"], vm["id"], self.dr.name, " and its cluster role" if vm["clustered"] else ""))
        for disk in clean["disks"]:
            actions.append("disconnect LUN %s (%s) from %s" % (disk["lun"], ", ".join(disk["access_paths"]), self.dr.name))
        if clean["unregister"]:
            actions.append("remove the registration of %s (its SnapInfo was on a LUN of the round trip)" % self.dr.name)
        for item in clean["maps"]:
            actions.append("unmap LUN %s from igroup %s" % (item["lun"], item["igroup"]))
        for mirror in plan["mirrors"]:
            if mirror["action"] == "reverse_resync":
                actions.append("reverse-resync SnapMirror %s -> %s into %s -> %s (the original direction)" % (
                    mirror["dr_volume"], mirror["primary_volume"], mirror["primary_volume"], mirror["dr_volume"]))
        for dataset in plan["prove"]["datasets"]:
            actions.append("back up dataset %s on %s with SnapMirror update and find its snapshot on the DR volumes" % (dataset, self.primary.name))
        return actions

    # -- changes ------------------------------------------------------------------------------------
    def _clean(self, plan):
        clean = plan["clean"]
        removed = {"vms": [], "disks": [], "maps": [], "registration": None}
        ids = [vm["id"] for vm in clean["vms"]]
        if ids:
            self.journal.intend("clean_vms", vms=ids)
            by_node = {}
            for vm in clean["vms"]:
                by_node.setdefault(vm["node"], []).append(vm)
            for node, vms in sorted(by_node.items()):  # on a DR cluster, each VM on the node it is registered on
                client = client_of(self.dr, node)
                client.call("vm_stop", {"ids": [vm["id"] for vm in vms], "turn_off": True})
                clustered = [vm["id"] for vm in vms if vm["clustered"]]
                if clustered:
                    client.call("cluster_vm_role_remove", {"ids": clustered})
                removed["vms"].extend(client.call("vm_remove", {"ids": [vm["id"] for vm in vms]}).result["removed"])
            self.journal.done("clean_vms", removed=removed["vms"])
        for disk in clean["disks"]:
            # a DR cluster's CSV or cluster disk leaves the cluster (offline on every node); any other disk is disconnected
            if self.dr.kind != "cluster" or not self.dr.owner.call("cluster_disk_remove", {"serial": disk["serial"]}).result["found"]:
                self.dr.owner.call("disk_disconnect", {"serial": disk["serial"]})
            removed["disks"].append(disk["lun"])
        if clean["unregister"]:
            removed["registration"] = unregister(self.dr)["actions"]
        for lun, igroup in self.maps:
            if self.dr_storage.san.unmap_lun(lun, igroup):
                removed["maps"].append("%s:%s" % (lun.cluster, lun.path))
        if removed["disks"]:
            for outcome in self.dr.call_nodes("disk_rescan", {}).values():
                if isinstance(outcome, SmhvError):
                    raise outcome
        return removed

    def _resync(self):
        pending = [entry for entry in self.entries if entry["stage"] == "arrived"]
        if not pending:
            return
        self.journal.intend("resync", volumes=[entry["primary_volume"] for entry in pending])
        at_dr = self.dr_storage.relationships()
        for entry in pending:
            # A rebuilt primary: the failover's relationship still names the old source; its destination can have one.
            stale = [r for r in at_dr if "%s:%s" % (r.cluster, r.destination_path) == entry["dr_volume"] and r.uuid != entry["back"].uuid]
            for relationship in stale:
                self.storage.delete_relationship(relationship)
            self.storage.snapmirror.reverse_resync(entry["back"])
            entry["stage"] = "protected"
        self.journal.done("resync")

    def _prove(self, plan):
        if not plan["prove"]["enabled"]:
            return {"next_scheduled_backup": "the next backup with SnapMirror update of the primary's datasets updates the DR volumes"}
        proof = {"backups": [], "volumes": []}
        for dataset in plan["prove"]["datasets"]:
            step = "prove~%s" % dataset
            if self.journal.state_of(step) == "done":
                proof["backups"].append(self.journal.merged(step)["backup"])
                continue
            self.journal.intend(step, dataset=dataset)
            self.keeper.check()
            result = self.site.proving_backup(dataset)
            proof["backups"].append(result["backup"]["name"])
            self.journal.done(step, backup=result["backup"]["name"])
        for entry in self.entries:
            dr_cluster, svm, name = entry["dr_volume"].split(":", 2)
            volume = self.dr_storage.get_volume(dr_cluster, svm, name)
            names = set(snapshot.name for snapshot in self.dr_storage.list_snapshots(volume))
            proof["volumes"].append({"dr_volume": entry["dr_volume"], "backups": sorted(b for b in proof["backups"] if b in names)})
        return proof
