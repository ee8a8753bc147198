# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failback (smhv_failback action=failback): after a failover to the DR site, the VMs go back to the primary site with
the data they have at the DR site now - the seed's chapter 8, "Steps to Fail Back VMs to Primary Site".

Phases (each timed: the result's RTO):
    discover      both sites: the volumes of the round trip (failback_sites.py) and their stage, the VMs the DR host runs
                  from them (the DR scope's datasets), the LUN pairs and mount points
    resync        each relationship the failover broke, reverse-resynced B -> A: only what changed at the DR site travels.
                  With rebuild=true (the primary site rebuilt on new storage) a new relationship B -> A is created and
                  initialized instead, to the volume primary_volumes names (default: the old source volume's name)
    shutdown      the VMs shut down (guest shutdown) on the DR host (on a DR cluster, on the node each runs on)
    final_backup  a backup of each of their datasets at the DR site with SnapMirror update (the seed's scripted way of
                  the one more update it asks for; the VMs are off, so the backup is what they wrote last)
    final_update  every reversed relationship updated once more and waited for (the SnapInfo's too)
    arrival       failback_arrival.Arrival: the failover engine from the DR scope to the primary host (break at A,
                  SnapInfo restored and the primary registered, LUNs connected, VMs restored and started; on a primary
                  cluster its cluster path: CSVs out of the cluster before the SnapRestore and back at their paths, the VMs
                  highly available again); its phases are in the result's arrival.rto

Journals. resync to final_update change the DR site, and are journaled in the DR host's SnapInfo (the active one), as
operation "failback" under a lease of its own ("failback~<primary scope>") so that the backup engine can still take the
DR scope's lease. The arrival is journaled where a failover is: in the SnapInfo it restores (now the primary's), under the
primary scope's lease. A run stopped anywhere is finished by the next: the stages come from ONTAP (a relationship already
reversed is not reversed again), the journal keeps the final backup from being taken twice, and the arrival resumes
from its own journal. The final backup's SnapInfo snapshot copies the open DR-site journal to the primary; the arrival
deletes that copy. Check mode changes nothing and returns the whole plan, computed before the run changes anything.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal, recover, register_recovery
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr import plan as dr_plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_arrival import DEPARTURE_OPERATION, Arrival
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import RoundTrip, client_of, public_entry, rehome_members
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import refuse_controller_vms, require_entries, vms_on
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planned import PrimarySite
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import mapped

OPERATION = DEPARTURE_OPERATION


def _resume(journal, context):
    """Recovery of operation "failback": the next failback run adopts the journal; anyone else leaves it to that run."""
    if isinstance(context, FailbackEngine):
        context.adopted = journal
        return {"resumed": True}
    return {"left": "an interrupted failback continues when smhv_failback runs again for the same primary scope"}


register_recovery(OPERATION, _resume)


class DepartureSite(PrimarySite):
    """The DR scope as the site the VMs leave: its catalog's datasets and the final backup with SnapMirror update."""

    def final_backup(self, dataset):
        return self._backup(dataset)

    def relationships_from(self, volumes):
        """The relationships (on any configured cluster) whose source is one of `volumes` ("svm:volume")."""
        return self.storage.snapmirror.find(source_path=sorted(volumes)) if volumes else []


class FailbackEngine(RoundTrip):
    """Fail the VMs the DR host (`dr`, ScopeSession) runs after a failover back to the primary host (`primary`).
    `storage` holds every storage system; `primary_storage` and `dr_storage` each site's."""

    def __init__(self, primary, dr, storage, primary_storage, dr_storage, snapinfo_path, report_path="C:\\SMHV\\Reports",
                 primary_volumes=None, rebuild=False, clock=utcnow, monotonic=time.monotonic, sleep=time.sleep,
                 lease_ttl=datetime.timedelta(minutes=30)):
        super().__init__(primary, dr, primary_storage, dr_storage, primary_volumes)
        self.storage = storage
        self.snapinfo_path = snapinfo_path.rstrip("\\")
        self.report_path = report_path
        self.rebuild = rebuild
        self.clock, self.monotonic, self.sleep, self.lease_ttl = clock, monotonic, sleep, lease_ttl
        self.adopted = None
        self.phases, self.warnings = [], []
        self.dr_nodes = {}  # VM id -> the node of the DR host it is registered on (a DR cluster's VMs may run on any)

    # -- the run ------------------------------------------------------------------------------------
    def run(self, vms=None, datasets=None, path_map=None, start=True, start_order=None, check_mode=False):
        started = self.monotonic()
        self.start, self.start_order = start, start_order
        plan = self._phase("discover", self._discover, vms, datasets, path_map)
        actions = self._describe(plan)
        result = {"action": "failback", "primary": self.primary.name, "dr_host": self.dr.name, "plan": plan, "actions": actions,
                  "departure": None, "arrival": None, "resumed": False}
        if check_mode:
            return self._result(result, started, changed=bool(actions))
        if any(entry["stage"] in ("failed_over", "reversed") for entry in self.entries) or self._departure_open():
            result["departure"] = self._depart(plan)
            result["resumed"] = self.adopted is not None
        arrival = self._arrival()
        outcome = arrival.run(vms=[vm["id"] for vm in plan["vms"]], path_map=plan["path_map"], luns=self._lun_hints(), start=start,
                              start_order=start_order, snapinfo_lun=self._snapinfo_twin())
        dropped = arrival.drop_departure_copies()
        rehomed = rehome_members(arrival.catalog_at_primary(), sorted(set(vm["dataset"] for vm in plan["vms"])),
                                 set(vm["id"] for vm in plan["vms"]), self.primary.name)
        result["arrival"] = {key: outcome[key] for key in ("actions", "recovery_points", "rpo_seconds", "rto", "resumed", "recovered", "warnings")}
        result["arrival"].update(dropped_journal_copies=dropped, rehomed_datasets=rehomed)
        result["recovery_points"], result["rpo_seconds"] = outcome["recovery_points"], outcome["rpo_seconds"]
        result["vms"] = [dict(vm, at_dr=next((p for p in plan["vms"] if p["id"] == vm["id"]), {}).get("state_at_dr")) for vm in outcome["vms"]]
        self.warnings.extend(outcome["warnings"])
        result["resumed"] = result["resumed"] or outcome["resumed"]
        return self._result(result, started, changed=bool(actions) or outcome["changed"] or bool(result["departure"]) or bool(rehomed))

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

    # -- discover and plan --------------------------------------------------------------------------
    def _discover(self, vms, datasets, path_map):
        entries = self.survey("dr")
        require_entries(entries, "the DR host %s has no LUN of a volume a SnapMirror relationship joins to the primary site's clusters (%s)"
                        % (self.dr.name, ", ".join(self.primary_clusters)), "Fail back after smhv_failover, from the DR host it failed over to.")
        stuck = [entry for entry in entries if entry["stage"] == "protected"]
        if stuck:
            raise SmhvError("FAILBACK_NOT_READY", "Volume(s) %s are still SnapMirror destinations of the primary site (%s): the DR host has their "
                            "LUNs but no failover broke them, so there is nothing to fail back." % (
                                ", ".join(e["dr_volume"] for e in stuck), ", ".join(e["state"] for e in stuck)),
                            {"volumes": [e["dr_volume"] for e in stuck]})
        missing = [entry["primary_volume"] for entry in entries if entry["stage"] == "failed_over" and not self.rebuild
                   and not any(lun["primary_lun"] for lun in entry["luns"])]
        if missing:
            raise SmhvError("FAILBACK_NOT_READY", "The primary site has no volume %s with the LUNs to resync into: if the primary site was rebuilt on "
                            "new storage, fail back with rebuild=true (and primary_volumes naming the new volumes)." % ", ".join(missing),
                            {"volumes": missing})
        self.departure = DepartureSite(self.dr, self.storage, lease_ttl=self.lease_ttl)
        pairs = self.path_pairs(path_map, self._recorded_roots())
        roots = [lun["dr_access_path"] for entry in entries for lun in entry["luns"] if lun["dr_access_path"]]
        chosen = self._vms_at_dr(vms, datasets, roots)
        at_primary = {vm["id"]: vm["state"] for vm in vms_on(self.primary, chosen)}
        plan_vms = []
        for vm_id, item in sorted(chosen.items(), key=lambda pair: pair[1]["name"].lower()):
            state = at_primary.get(vm_id)
            action = "fail back" if state is None else ("start" if bool(self.start) and state != "Running" else "none")
            plan_vms.append({"id": vm_id, "name": item["name"], "dataset": item["dataset"], "state_at_dr": item["state"],
                             "config_path_at_dr": item["config_path"], "config_path": mapped(item["config_path"], pairs) if item["config_path"] else None,
                             "action": action})
        datasets_used = sorted(set(vm["dataset"] for vm in plan_vms))
        departing = any(entry["stage"] in ("failed_over", "reversed") for entry in entries)
        mirrors = []
        for entry in entries:
            if entry["stage"] == "failed_over":
                action = "create" if self.rebuild else "reverse_resync"
            else:
                action = "break" if entry["stage"] == "reversed" else "none"
            mirrors.append(public_entry(entry, action))
        shutdown = [vm for vm in plan_vms if departing and vm["state_at_dr"] not in ("Off",) and vm["action"] == "fail back"]
        refuse_controller_vms(self.dr, [chosen[vm["id"]]["inventory"] for vm in shutdown], "failback's shutdown at the DR site")
        return {"mirrors": mirrors, "vms": plan_vms, "path_map": dict(pairs),
                "final_backup": {"datasets": datasets_used if departing else [], "host": self.dr.name},
                "shutdown": sorted(vm["name"] for vm in shutdown),
                "snapinfo": {"path": self.snapinfo_path, "dr_path": self.departure.path}}

    def _recorded_roots(self):
        """{primary LUN serial: the drive or CSV its files were under} from the newest backups that recorded it: the backups
        the primary scope took before the failover are in the DR site's catalog (the SnapInfo came from there)."""
        wanted = set(lun["primary_lun"].serial for entry in self.entries for lun in entry["luns"] if lun["primary_lun"] is not None)
        found = {}
        summaries = list(reversed(self.departure.catalog.list_backups(status="ok")))
        for start in range(0, len(summaries), 10):
            if wanted <= set(found):
                break
            for record in self.departure.catalog.get_backups(summaries[start:start + 10]):
                for serial, lun in dr_plan.source_luns(record).items():
                    roots = [root for root in lun["roots"] if root]
                    if serial in wanted and serial not in found and len(roots) == 1:
                        found[serial] = roots[0]
        return found

    def _vms_at_dr(self, vms, datasets, roots):
        """{vm id: {name, dataset, state, config_path}} of the VMs of the DR scope's datasets the DR host has on the round
        trip's LUNs (`vms`, `datasets` narrow them)."""
        members = {}
        for dataset, items in sorted(self.departure.scope_vms(datasets, vms).items()):
            for vm_id, name in items:
                members.setdefault(vm_id, {"name": name, "dataset": dataset})
        chosen = {}
        for vm in vms_on(self.dr, members):
            where = (vm["config_path"] or vm["configuration_location"] or "").lower()
            if any(where.startswith(root.lower()) for root in roots):
                chosen[vm["id"]] = dict(members[vm["id"]], state=vm["state"], config_path=vm["config_path"], inventory=vm)
                self.dr_nodes[vm["id"]] = vm["node"]
        if not chosen:
            raise SmhvError("FAILBACK_NOT_READY", "The DR host %s has none of the VMs of %s's datasets (%s) on the failed-over LUNs: nothing to fail "
                            "back." % (self.dr.name, self.dr.name, ", ".join(sorted(set(m["dataset"] for m in members.values()))) or "none"),
                            {"vms": sorted(vms or [])})
        return chosen

    def _lun_hints(self):
        """Which primary LUN stood at which DR access path (the twin of each DR LUN): the arrival's `luns`."""
        return [{"lun": lun["primary_lun"].path, "access_path": lun["dr_access_path"]} for entry in self.entries for lun in entry["luns"]
                if lun["primary_lun"] is not None and lun["dr_access_path"]]

    def _snapinfo_twin(self):
        """The primary LUN whose DR twin holds the DR host's SnapInfo: a SnapInfo volume may hold several scopes' LUNs."""
        where = self.departure.path.lower()
        for entry in self.entries:
            for lun in entry["luns"]:
                if lun["primary_lun"] is not None and lun["dr_access_path"] and where.startswith(lun["dr_access_path"].lower()):
                    return lun["primary_lun"].path
        return None

    def _describe(self, plan):
        actions = []
        for mirror in plan["mirrors"]:
            if mirror["action"] == "reverse_resync":
                actions.append("reverse-resync SnapMirror %s -> %s into %s -> %s (only what changed at the DR site travels)" % (
                    mirror["primary_volume"], mirror["dr_volume"], mirror["dr_volume"], mirror["primary_volume"]))
            elif mirror["action"] == "create":
                actions.append("create and initialize SnapMirror %s -> %s (the primary site rebuilt)" % (mirror["dr_volume"], mirror["primary_volume"]))
        if plan["shutdown"]:
            actions.append("shut down VM(s) %s on %s" % (", ".join(plan["shutdown"]), self.dr.name))
        for dataset in plan["final_backup"]["datasets"]:
            actions.append("back up dataset %s on %s with SnapMirror update (the final backup)" % (dataset, self.dr.name))
        for mirror in plan["mirrors"]:
            if mirror["action"] in ("reverse_resync", "create") or (plan["final_backup"]["datasets"] and mirror["action"] == "break"):
                actions.append("SnapMirror update %s -> %s after the final backup" % (mirror["dr_volume"], mirror["primary_volume"]))
        for mirror in plan["mirrors"]:
            if mirror["action"] != "none":
                actions.append("quiesce and break SnapMirror %s -> %s at the primary site" % (mirror["dr_volume"], mirror["primary_volume"]))
        for vm in plan["vms"]:
            if vm["action"] == "fail back":
                actions.append("restore VM %s (%s) on %s at %s" % (vm["name"], vm["id"], self.primary.name, vm["config_path"]))
        starting = [vm["name"] for vm in plan["vms"] if vm["action"] in ("fail back", "start") and bool(self.start)]
        if starting:
            actions.append("start VM(s) %s on %s" % (", ".join(starting), self.primary.name))
        return actions

    # -- the DR site's part -------------------------------------------------------------------------
    def _departure_catalog(self, owner=None):
        return Catalog(HostRepository(owner or self.dr.owner, self.departure.path))

    def _departure_open(self):
        return any(versioned.record.operation == OPERATION and versioned.record.subject == self.primary.name
                   for versioned in self._departure_catalog().list_journals())

    def _depart(self, plan):
        catalog = self._departure_catalog()
        lease = "%s~%s" % (OPERATION, self.primary.name)
        held = catalog.acquire_lease(self.dr.name, "smhv_failback of %s from %s" % (self.primary.name, self.dr.name), self.lease_ttl,
                                     name=lease, heartbeat=heartbeat_seconds(self.lease_ttl))
        with LeaseKeeper(self._departure_catalog(self.dr.spare_owner()), held, self.lease_ttl) as keeper:
            recovered = recover(catalog, held, self, operations=[OPERATION])
            journal = self.adopted or OperationJournal.begin(catalog, OPERATION, self.dr.name, held, key=self.primary.name, subject=self.primary.name)
            self.journal, self.keeper = journal, keeper
            outcome = {"journal": journal.id, "recovered": recovered, "final_backups": [], "stopped": [], "updates": []}
            self._phase("resync", self._resync)
            self._phase("shutdown", self._shutdown, plan, outcome)
            self._phase("final_backup", self._final_backup, plan, outcome)
            self._phase("final_update", self._final_update, outcome)
            journal.close()
        return outcome

    def _resync(self):
        pending = [entry for entry in self.entries if entry["stage"] == "failed_over"]
        if not pending:
            return
        self.journal.intend("resync", volumes=[entry["dr_volume"] for entry in pending], rebuild=self.rebuild)
        for entry in pending:
            if self.rebuild:
                entry["back"] = self._create_back(entry)
                self._pair_luns(entry)  # the new volume's LUNs, which the arrival pairs with the DR site's by name
            else:
                entry["back"] = self.storage.snapmirror.reverse_resync(entry["original"])
            entry["stage"] = "reversed"
        self.journal.done("resync")

    def _create_back(self, entry):
        dr_cluster, dr_path = entry["dr_volume"].split(":", 1)
        cluster, path = entry["primary_volume"].split(":", 1)
        return self.storage.create_mirror(dr_cluster, dr_path, cluster, path)

    def _shutdown(self, plan, outcome):
        names = set(plan["shutdown"])
        ids = [vm["id"] for vm in plan["vms"] if vm["name"] in names]
        if not ids or self.journal.state_of("shutdown") == "done":
            return
        self.journal.intend("shutdown", vms=sorted(names))
        by_node = {}
        for vm_id in ids:  # on a DR cluster, on the node each VM runs on
            by_node.setdefault(self.dr_nodes.get(vm_id, self.dr.owner.name), []).append(vm_id)
        stopped = []
        for node, node_ids in sorted(by_node.items()):
            stopped.extend(item["name"] for item in client_of(self.dr, node).call("vm_stop", {"ids": node_ids}).result["vms"])
        outcome["stopped"] = sorted(stopped)
        self.journal.done("shutdown", stopped=outcome["stopped"])

    def _final_backup(self, plan, outcome):
        ids = set(vm["id"] for vm in plan["vms"])
        outcome["rehomed"] = rehome_members(self.departure.catalog, plan["final_backup"]["datasets"], ids, self.dr.name)
        for dataset in plan["final_backup"]["datasets"]:
            step = "final_backup~%s" % dataset
            if self.journal.state_of(step) == "done":
                outcome["final_backups"].append(self.journal.merged(step).get("backup"))
                continue
            self.journal.intend(step, dataset=dataset)
            self.keeper.check()
            backup = self.departure.final_backup(dataset)
            outcome["final_backups"].append(backup["backup"]["name"])
            self.journal.done(step, backup=backup["backup"]["name"])

    def _final_update(self, outcome):
        volumes = [entry["dr_volume"].split(":", 1)[1] for entry in self.entries]
        clusters = dict((entry["dr_volume"].split(":", 1)[1], entry["dr_volume"].split(":", 1)[0]) for entry in self.entries)
        relationships = [r for r in self.departure.relationships_from(volumes) if r.source_cluster == clusters.get(r.source_path)
                         and r.state == "snapmirrored"]
        self.journal.intend("final_update", relationships=[r.destination_path for r in relationships])
        for relationship in relationships:
            result = self.storage.snapmirror.update(relationship)
            outcome["updates"].append({"source": relationship.source_path, "destination": "%s:%s" % (relationship.cluster, relationship.destination_path),
                                       "state": result.state})
        self.journal.done("final_update")

    # -- the primary site's part --------------------------------------------------------------------
    def _arrival(self):
        return Arrival(self.primary, self.primary_storage, self.dr.name, self.snapinfo_path, report_path=self.report_path, clock=self.clock,
                       monotonic=self.monotonic, sleep=self.sleep, lease_ttl=self.lease_ttl)
