# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unplanned failover of a source scope's VMs to a standalone DR host or a DR failover cluster (smhv_failover), the seed's
chapter 8 automated.

Phases (each timed: the result's RTO), a class of steps each, which FailoverEngine composes: discover and snapinfo in
discover.py, plan in planning.py, break to start in changes.py, and what a DR cluster does differently (every node, CSVs,
cluster roles) in cluster.py.
    discover   the DR site's SnapMirror relationships, the SnapInfo destination volume, its LUN and the source scope's
               newest SnapInfo snapshot there; the DR host's facts and disks
    snapinfo   break the SnapInfo mirror, map its LUN to the DR host's igroup, connect it at the SnapInfo path's drive,
               single-LUN SnapRestore from that snapshot, register the DR host with it (skipped when the DR host already
               has that LUN at the SnapInfo path and is registered with it: a re-run)
    plan       from the restored catalog: the VMs (scopes' datasets, datasets, or a list), the recovery point per dataset
               (the newest backup whose snapshots are on every destination volume the VMs need, or the one named), each
               destination LUN standing for a source LUN and where it goes on the DR host (same access path, or path_map)
    break      quiesce and break every relationship of those destination volumes (from the destination: no source asked)
    snaprestore  each destination volume to the recovery point: volume SnapRestore when it holds one LUN, else a
               single-LUN SnapRestore per LUN (the seed's rule); a LUN a VM of the DR host already runs on is never
               restored again
    connect    map each LUN to the DR host's igroup and connect it at its access path
    restore    each VM the DR host does not have, registered in place from the LUNs in one agent call (vm_import_batch, the
               LUNs' path map); a VM on a LUN this failover did not SnapRestore through the restore engine (changes.py)
    cluster_roles  on a DR cluster: each VM made highly available (Add-ClusterVirtualMachineRole)
    start      start the VMs group by group (start_order), waiting between groups

Everything after the SnapInfo is journaled in the DR scope's SnapInfo (the restored one, or the DR scope's own when the
primary's came in beside it, discover.py) under the DR scope's lease: a run that
stopped anywhere leaves its journal open, and the next run takes it over (journal.recover, operation "failover") and
continues from it with the same recovery point, skipping what is done; a VM already registered on the DR host is never
restored twice. Check mode changes nothing and returns the whole plan; before the SnapInfo is at the DR host, its catalog is
read through a FlexClone of the SnapInfo destination volume at that snapshot, connected under the mount root and removed
before the answer (so the lab's state is the same before and after).
"""

from __future__ import annotations

import copy
import datetime
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal, recover, register_recovery
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr import plan as dr_plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.changes import ChangeSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.clones import VolumeCloneMount
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.cluster import ClusterSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.discover import DiscoverSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planning import PlanSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import path_pairs, with_separator

OPERATION = "failover"


def _resume(journal, context):
    """Recovery of operation "failover": the next failover run adopts the journal and continues it; anyone else (smhv_cleanup)
    leaves it open for that run."""
    if isinstance(context, FailoverEngine):
        context.adopted = journal
        return {"resumed": True}
    return {"left": "an interrupted failover continues when smhv_failover runs again for the same DR host"}


register_recovery(OPERATION, _resume)


class FailoverEngine(DiscoverSteps, PlanSteps, ChangeSteps, ClusterSteps):
    """Fail the VMs of `source_scope` over to the DR host or cluster of `session` (a ScopeSession), on `storage` (DrStorage)."""

    def __init__(self, session, storage, source_scope, snapinfo_path, report_path="C:\\SMHV\\Reports", clock=utcnow,
                 monotonic=time.monotonic, sleep=time.sleep, lease_ttl=datetime.timedelta(minutes=30)):
        self.session = session
        self.host = session.owner
        self.storage = storage
        self.source_scope = source_scope
        self.snapinfo_path = snapinfo_path.rstrip("\\")
        self.snapinfo_root = dr_plan.volume_root(self.snapinfo_path + "\\")
        if self.snapinfo_root is None:
            raise SmhvError("INVALID_ARGUMENT", "snapinfo_path %s must be on a drive letter (other than C:) or a CSV of the DR host: "
                            "the SnapInfo LUN is connected at that drive." % snapinfo_path, {"snapinfo_path": snapinfo_path})
        self.report_path = report_path
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.lease_ttl = lease_ttl
        self.adopted = None
        self.mode_refuses_drills = True  # a failover refuses to run beside a drill; a drill ends an earlier one first
        self.phases = []
        self.actions = []
        self.warnings = []
        self.vm_nodes = {}  # VM id -> the node it is registered on (a cluster's VM may run on any)
        self.clustered = {}  # VM id -> whether it is highly available (a cluster role)

    # -- the run ------------------------------------------------------------------------------------
    def run(self, vms=None, datasets=None, backup=None, path_map=None, luns=None, start=True, start_order=None, check_mode=False,
            snapinfo_lun=None, primary=None, final_backup=True):
        """`primary` (planned.PrimarySite): a planned failover, whose final backup, shutdown and final update run first."""
        started = self.monotonic()
        self.pairs = path_pairs(path_map)
        self.lun_hints = {(item["lun"].split(":", 1)[-1] if ":" in item["lun"] and not item["lun"].startswith("/") else item["lun"]).lower():
                          with_separator(item["access_path"]) for item in luns or []}
        self.selection = {"vms": list(vms or []), "datasets": list(datasets or []), "backup": backup}
        self.start, self.start_order = start, start_order
        self._phase("discover", self._discover, snapinfo_lun)
        self._require_separate_disk()
        self.mode, self.prepared = ("planned" if primary is not None else "unplanned"), None
        if primary is not None and not self.snapinfo["present"]:
            chosen = primary.scope_vms(datasets, vms)
            self.prepared = self._phase("prepare", primary.prepare, chosen, final_backup, check_mode)
            self.actions.extend(self.prepared["actions"])
            if not check_mode:  # the final backup's snapshots and SnapInfo snapshot are at the DR site now
                self._phase("rediscover", self._discover, snapinfo_lun)
        if check_mode:
            if self.snapinfo["present"]:
                plan = self._phase("plan", self._plan, self._catalog())
            else:
                with VolumeCloneMount(self.storage, self.session, self.snapinfo["volume_ref"], self.snapinfo["snapshot_ref"],
                                      "smhv_drplan_%s" % self.clock().strftime("%Y%m%d%H%M%S")) as mount:
                    relative = self.snapinfo_path[len(self.snapinfo_root):]
                    catalog = Catalog(HostRepository(self.host, mount.path_of(self.snapinfo["lun_ref"]) + relative))
                    plan = self._phase("plan", self._plan, catalog)
            self.public_plan = self._public(plan)
            self._describe(plan)
            return self._result(plan, started, check_mode=True)
        self._phase("snapinfo", self._bring_snapinfo)
        catalog = self._catalog()
        # The failover's lease and journal live in the DR scope's SnapInfo: the restored one it is registered with, or its
        # own when the primary's was brought in beside it.
        ledger_path = self.snapinfo_plan["beside"] or self.snapinfo_path
        ledger = self.dr_catalog or catalog
        holder = "smhv_failover of %s to %s" % (self.source_scope, self.session.name)
        held = ledger.acquire_lease(self.session.name, holder, self.lease_ttl, heartbeat=heartbeat_seconds(self.lease_ttl))
        keeper_catalog = Catalog(HostRepository(self.session.spare_owner(), ledger_path))
        with LeaseKeeper(keeper_catalog, held, self.lease_ttl) as keeper:
            recovered = recover(ledger, held, self, operations=[OPERATION])
            journal = self.adopted or OperationJournal.begin(ledger, OPERATION, self.session.name, held, subject=self.source_scope)
            self.journal, self.keeper = journal, keeper
            try:
                if self.adopted is not None:
                    self._adopt_selection(journal)
                plan = self._phase("plan", self._plan, catalog)
                self.public_plan = self._public(plan)
                self._describe(plan)
                if journal.state_of("plan") != "done":
                    journal.done("plan", backups={rp["dataset"]: rp["backup"] for rp in plan["recovery_points"]},
                                 vms=[vm["id"] for vm in plan["vms"]], selection=self.selection)
                self._phase("break", self._break, plan)
                self._phase("snaprestore", self._snaprestore, plan)
                self._phase("connect", self._connect, plan)
                self._phase("restore", self._restore_vms, plan, catalog)
                if self.on_cluster:
                    self._phase("cluster_roles", self._make_highly_available, plan)
                if start:
                    self._phase("start", self._start_vms, plan)
            except SmhvError as error:
                error.details.setdefault("journal", journal.id)
                error.message += (" The failover's journal %s stays open in %s: run smhv_failover again with the same options to "
                                  "continue from where it stopped." % (journal.id, ledger_path))
                try:
                    journal.set_state("running", error)
                except SmhvError:
                    pass
                raise
            journal.close()
        result = self._result(plan, started)
        result["resumed"] = bool(self.adopted is not None)
        result["recovered"] = recovered
        return result

    def _phase(self, name, function, *args):
        began = self.monotonic()
        try:
            return function(*args)
        except SmhvError as error:
            error.details.setdefault("phase", name)
            raise
        finally:
            self.phases.append({"phase": name, "seconds": round(self.monotonic() - began, 3)})

    def _adopt_selection(self, journal):
        """A resumed failover keeps the VMs and recovery points its journal chose."""
        chosen = journal.merged("plan")
        if chosen:
            self.selection = dict(chosen.get("selection") or self.selection)
            self.fixed_backups = chosen.get("backups") or {}

    def _catalog(self):
        return Catalog(HostRepository(self.host, self.snapinfo_path))

    # -- result -------------------------------------------------------------------------------------
    @staticmethod
    def _public(plan):
        """The plan as returned: a copy taken before any change, so check mode's and the run's can be compared."""
        public = {key: value for key, value in plan.items() if not key.startswith("_")}
        public["luns"] = [{key: value for key, value in lun.items() if key != "lun_ref"} for lun in plan["luns"]]
        return copy.deepcopy(public)

    def _result(self, plan, started, check_mode=False):
        public = self.public_plan
        vms = []
        for vm in plan["vms"]:
            item = dict(vm)
            if check_mode:
                item["outcome"] = "planned" if vm["action"] == "restore" else "present"
            vms.append(item)
        now = self.clock()
        points = [dict(point, age_seconds=round((now - datetime.datetime.fromisoformat(point["time"])).total_seconds()))
                  for point in plan["recovery_points"]]
        ages = [point["age_seconds"] for point in points]
        changed = bool(self.actions) or any(vm.get("started") for vm in vms)
        return {"changed": changed, "mode": getattr(self, "mode", "unplanned"), "prepared": getattr(self, "prepared", None),
                "source_scope": self.source_scope, "dr_host": self.session.name,
                "plan": public, "actions": list(self.actions), "vms": vms, "recovery_points": points,
                "rpo_seconds": max(ages) if ages else None, "rto": {"total": round(self.monotonic() - started, 3), "phases": list(self.phases)},
                "warnings": list(self.warnings)}
