# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unplanned failover of a source scope's VMs to a standalone DR host (smhv_failover), the seed's chapter 8 automated.

Phases (each timed: the result's RTO):
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
    restore    each VM through the restore engine (verify_snapshot=false, path_map), unless the DR host has it already
    start      start the VMs group by group (start_order), waiting between groups

Everything after the SnapInfo is journaled in the restored SnapInfo (the DR site's) under the DR scope's lease: a run that
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

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo as snapinfo_ops
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr import plan as dr_plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.clones import VolumeCloneMount
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import register
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal, recover, register_recovery
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import SNAPINFO_PREFIX, snapinfo_host

OPERATION = "failover"
ISCSI_SERVICE = "MSiSCSI"
DRILL_ROOT = "C:\\SMHV\\Drills"  # where drills (drill.py) connect their clones: VMs registered from there are a drill's


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _resume(journal, context):
    """Recovery of operation "failover": the next failover run adopts the journal and continues it; anyone else (smhv_cleanup)
    leaves it open for that run."""
    if isinstance(context, FailoverEngine):
        context.adopted = journal
        return {"resumed": True}
    return {"left": "an interrupted failover continues when smhv_failover runs again for the same DR host"}


register_recovery(OPERATION, _resume)


class FailoverEngine:
    """Fail the VMs of `source_scope` over to the DR host of `session` (a ScopeSession), on `storage` (DrStorage)."""

    def __init__(self, session, storage, source_scope, snapinfo_path, report_path="C:\\SMHV\\Reports", clock=_utcnow,
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

    # -- the run ------------------------------------------------------------------------------------
    def run(self, vms=None, datasets=None, backup=None, path_map=None, luns=None, start=True, start_order=None, check_mode=False,
            snapinfo_lun=None, primary=None, final_backup=True):
        """`primary` (planned.PrimarySite): a planned failover, whose final backup, shutdown and final update run first."""
        started = self.monotonic()
        self.pairs = dr_plan.path_pairs(path_map)
        self.lun_hints = {(item["lun"].split(":", 1)[-1] if ":" in item["lun"] and not item["lun"].startswith("/") else item["lun"]).lower():
                          dr_plan.with_separator(item["access_path"]) for item in luns or []}
        self.selection = {"vms": list(vms or []), "datasets": list(datasets or []), "backup": backup}
        self.start, self.start_order = start, start_order
        self._phase("discover", self._discover, snapinfo_lun)
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
        holder = "smhv_failover of %s to %s" % (self.source_scope, self.session.name)
        held = catalog.acquire_lease(self.session.name, holder, self.lease_ttl, heartbeat=heartbeat_seconds(self.lease_ttl))
        keeper_catalog = Catalog(HostRepository(self.session.spare_owner(), self.snapinfo_path))
        with LeaseKeeper(keeper_catalog, held, self.lease_ttl) as keeper:
            recovered = recover(catalog, held, self, operations=[OPERATION])
            journal = self.adopted or OperationJournal.begin(catalog, OPERATION, self.session.name, held, subject=self.source_scope)
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
                if start:
                    self._phase("start", self._start_vms, plan)
            except SmhvError as error:
                error.details.setdefault("journal", journal.id)
                error.message += (" The failover's journal %s stays open in %s: run smhv_failover again with the same options to "
                                  "continue from where it stopped." % (journal.id, self.snapinfo_path))
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

    # -- discover -----------------------------------------------------------------------------------
    def _discover(self, snapinfo_lun):
        self.facts = self.session.facts
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
            dr_plan.with_separator(path).lower() == self.snapinfo_root.lower() for path in connected["access_paths"]))
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
        service = next((s for s in self.facts["services"] if s["name"].lower() == ISCSI_SERVICE.lower()), None)
        if service is not None and service["status"] != "Running":
            self.host.call("prerequisites_ensure", {"features": [], "services": [ISCSI_SERVICE]})
            self.facts = self.host.call("host_facts").result

    def _map_and_connect(self, lun, access_path):
        disk = self.disks.get(lun.serial)
        if disk and disk["online"] and any(dr_plan.with_separator(p).lower() == access_path.lower() for p in disk["access_paths"]):
            return False
        igroup = host_igroup(self.storage, lun, self.facts)
        self.storage.san.map_lun(lun, igroup)
        reply = self.host.call("disk_connect", {"serial": lun.serial, "access_path": access_path}).result
        self.disks[lun.serial] = reply["disk"]
        return True

    # -- plan ---------------------------------------------------------------------------------------
    def _plan(self, catalog):
        datasets = catalog.list_datasets()
        wanted = self.selection["datasets"] or datasets
        unknown = sorted(set(wanted) - set(datasets))
        if unknown:
            raise SmhvError("DATASET_NOT_FOUND", "The catalog of %s at the DR site has no dataset %s (it has %s)." % (
                self.source_scope, ", ".join(unknown), ", ".join(datasets) or "none"), {"datasets": unknown})
        known = catalog.backed_up_vms(wanted)
        chosen = self._chosen_vms(known)
        by_dataset = {}
        for vm_id in chosen:
            entry = known[vm_id]
            dataset = entry["datasets"][0] if len(entry["datasets"]) == 1 else self._newest_dataset(catalog, vm_id, entry["datasets"])
            by_dataset.setdefault(dataset, set()).add(vm_id)
        destination_of, by_destination = {}, {}
        for relationship in self.relationships:
            source = "%s:%s" % (relationship.source_cluster, relationship.source_path)
            destination = "%s:%s" % (relationship.cluster, relationship.destination_path)
            destination_of[source] = destination
            by_destination[destination] = relationship
        snapshot_cache = {}
        volume_cache = {}

        def volume_of(destination):
            if destination not in volume_cache:
                cluster, svm, name = destination.split(":", 2)
                volume_cache[destination] = self.storage.get_volume(cluster, svm, name)
            return volume_cache[destination]

        def snapshots_on(destination):
            if destination not in snapshot_cache:
                snapshot_cache[destination] = set(s.name for s in self.storage.list_snapshots(volume_of(destination)))
            return snapshot_cache[destination]

        fixed = getattr(self, "fixed_backups", {}) or {}
        recovery_points, volumes, records = [], {}, {}
        for dataset, vm_ids in sorted(by_dataset.items()):
            named = fixed.get(dataset) or self.selection["backup"]
            summaries = catalog.list_backups(dataset=dataset, status="ok")
            candidates = catalog.get_backups(list(reversed(summaries)))
            record, needed, skipped = dr_plan.choose_recovery_point(candidates, vm_ids, destination_of, snapshots_on, named=named)
            records[dataset] = record
            recovery_points.append({"dataset": dataset, "backup": record.name, "time": record.time.isoformat(), "newer_skipped": skipped})
            for source, (destination, snapshot) in needed.items():
                previous = volumes.get(destination)
                if previous and previous["snapshot"] != snapshot:
                    raise SmhvError("INVALID_ARGUMENT", "Destination volume %s would go to snapshot %s for dataset %s and %s for dataset %s: "
                                    "fail the datasets over one at a time, or name one backup." % (
                                        destination, previous["snapshot"], previous["dataset"], snapshot, dataset), {"volume": destination})
                volumes[destination] = {"volume": destination, "source": source, "snapshot": snapshot, "backup": record.name,
                                        "dataset": dataset}
        registered = self._registered(chosen)
        luns, lun_of_serial = [], {}
        for destination, entry in sorted(volumes.items()):
            volume = volume_of(destination)
            record = records[entry["dataset"]]
            sources = {serial: lun for serial, lun in dr_plan.source_luns(record).items() if lun["volume"] == entry["source"]}
            for lun in sources.values():
                lun["volume"] = destination
            destination_luns = self.storage.volume_luns(volume.cluster, volume.svm, volume.name)
            paired = dr_plan.match_luns(sources, destination_luns, self.lun_hints)
            entry["relationship"] = by_destination[destination]
            entry["volume_ref"] = volume
            entry["method"] = "volume" if len(destination_luns) == 1 else "lun"
            entry["lun_count"] = len(destination_luns)
            for serial, lun in sorted(paired.items(), key=lambda pair: pair[1].path):
                roots = [root for root in sources[serial]["roots"] if root]
                hint = self.lun_hints.get(lun.path.lower())
                source_root = hint or (roots[0] if len(roots) == 1 else None)
                if source_root is None:
                    where = ", ".join(sorted(r or "?" for r in sources[serial]["roots"]))
                    raise SmhvError("INVALID_ARGUMENT", "The files on destination LUN %s:%s were not under one drive or CSV at the primary site "
                                    "(%s): give its access path in `luns`." % (lun.cluster, lun.path, where), {"lun": lun.path})
                vm_ids = sorted(sources[serial]["vms"])
                in_use = sorted(vm_id for vm_id in vm_ids if vm_id in registered)
                disk = self.disks.get(lun.serial)
                access_path = self._lun_access_path(lun, source_root)
                connected = bool(disk and disk["online"] and any(dr_plan.with_separator(p).lower() == access_path.lower()
                                                                 for p in disk["access_paths"]))
                plan = {"lun": "%s:%s" % (lun.cluster, lun.path), "serial": lun.serial, "source_serial": serial, "volume": destination,
                        "snapshot": entry["snapshot"], "source_access_path": source_root, "access_path": access_path,
                        "restore": "none" if in_use or self._snaprestored() else entry["method"], "connected": connected,
                        "vms": [known[vm_id]["name"] if vm_id in known else vm_id for vm_id in vm_ids], "lun_ref": lun}
                lun_of_serial[serial] = plan
                luns.append(plan)
        vm_pairs = dr_plan.path_pairs({lun["source_access_path"]: lun["access_path"] for lun in luns})
        groups = dr_plan.start_groups([known[vm_id]["name"] for vm_id in chosen], self.start_order)
        group_of = {name.lower(): index for index, (names, _wait) in enumerate(groups) for name in names}
        vms = []
        for vm_id in chosen:
            dataset = next(name for name, ids in by_dataset.items() if vm_id in ids)
            record = records[dataset]
            backed_up = next(vm for vm in record.vms if vm.vm_id == vm_id)
            configs = [f.path for f in backed_up.files if f.kind == "config" and f.path.lower().endswith((".vmcx", ".xml"))]
            vms.append({"id": vm_id, "name": backed_up.name, "dataset": dataset, "backup": record.name, "host": self.session.name,
                        "source_host": backed_up.host, "config_path": dr_plan.mapped(configs[0], vm_pairs) if configs else None,
                        "disks": [dr_plan.mapped(f.path, vm_pairs) for f in backed_up.files if f.kind == "vhd"],
                        "action": "none" if vm_id in registered else "restore", "start_group": group_of[backed_up.name.lower()],
                        "start": bool(self.start) and registered.get(vm_id) != "Running"})
        mirrors = []
        for destination, entry in sorted(volumes.items()):
            relationship = entry["relationship"]
            mirrors.append({"source": "%s:%s" % (relationship.source_cluster, relationship.source_path), "destination": destination,
                            "state": relationship.state, "action": "none" if relationship.state == "broken_off" else "break"})
        return {"snapinfo": dict(self.snapinfo_plan), "recovery_points": recovery_points, "mirrors": mirrors,
                "volumes": [{key: entry[key] for key in ("volume", "source", "dataset", "backup", "snapshot", "method", "lun_count")}
                            for _d, entry in sorted(volumes.items())],
                "luns": luns, "vms": vms, "start_groups": [{"vms": names, "wait_seconds": wait} for names, wait in groups],
                "_volumes": volumes, "_records": list(records.values())}

    def _lun_access_path(self, lun, source_root):
        """Where a destination LUN goes on the DR host: its source LUN's access path, through path_map."""
        return dr_plan.mapped(source_root, self.pairs)

    def _snaprestored(self):
        journal = getattr(self, "journal", None)
        return journal is not None and journal.state_of("snaprestore") == "done"

    def _newest_dataset(self, catalog, vm_id, datasets):
        summaries = catalog.list_backups(vm_id=vm_id, status="ok")
        in_sets = [summary for summary in summaries if summary.dataset in datasets]
        return in_sets[-1].dataset

    def _chosen_vms(self, known):
        if not self.selection["vms"]:
            return sorted(known, key=lambda vm_id: known[vm_id]["name"].lower())
        chosen = []
        for wanted in self.selection["vms"]:
            matches = [vm_id for vm_id, entry in known.items() if vm_id == wanted.lower() or entry["name"].lower() == wanted.lower()]
            if len(matches) != 1:
                raise SmhvError("VM_NOT_FOUND" if not matches else "VM_AMBIGUOUS", "%s VM called %s in the backups of %s at the DR site%s." % (
                    "No" if not matches else "More than one", wanted, self.source_scope, "" if not matches else ": name it by id (%s)"
                    % ", ".join(matches)), {"vm": wanted, "ids": matches})
            if matches[0] not in chosen:
                chosen.append(matches[0])
        return sorted(chosen, key=lambda vm_id: known[vm_id]["name"].lower())

    def _registered(self, vm_ids):
        if not vm_ids:
            return {}
        found = self.host.call("vm_inventory", {"ids": sorted(vm_ids), "require_all": False}).result["vms"]
        drilled = [vm["name"] for vm in found if (vm["config_path"] or vm["configuration_location"] or "").lower().startswith(
            DRILL_ROOT.lower() + "\\")]
        if drilled and self.mode_refuses_drills:
            raise SmhvError("VM_EXISTS", "A DR drill of %s runs on %s (VM(s) %s, with the same ids): end it (action: end_drill) before "
                            "failing over to that host." % (self.source_scope, self.session.name, ", ".join(sorted(drilled))),
                            {"drill_vms": sorted(drilled), "host": self.session.name})
        return {vm["id"]: vm["state"] for vm in found}

    def _describe(self, plan):
        snapinfo = plan["snapinfo"]
        if snapinfo["action"] == "restore":
            self.actions.append("break SnapMirror %s -> %s, connect SnapInfo LUN %s at %s on %s, restore it from %s and register %s with %s"
                                % (snapinfo["source"], snapinfo["destination"], snapinfo["lun"], snapinfo["access_path"], self.session.name,
                                   snapinfo["snapshot"], self.session.name, snapinfo["path"]))
        for mirror in plan["mirrors"]:
            if mirror["action"] == "break":
                self.actions.append("quiesce and break SnapMirror %s -> %s" % (mirror["source"], mirror["destination"]))
        restored = set()
        for lun in plan["luns"]:
            if lun["restore"] == "volume" and lun["volume"] not in restored:
                restored.add(lun["volume"])
                self.actions.append("restore volume %s to snapshot %s (it holds one LUN)" % (lun["volume"], lun["snapshot"]))
            elif lun["restore"] == "lun":
                self.actions.append("restore LUN %s from snapshot %s (single-LUN SnapRestore)" % (lun["lun"], lun["snapshot"]))
            if not lun["connected"]:
                self.actions.append("map LUN %s to %s and connect it at %s" % (lun["lun"], self.session.name, lun["access_path"]))
        for vm in plan["vms"]:
            if vm["action"] == "restore":
                self.actions.append("restore VM %s (%s) from backup %s on %s at %s" % (vm["name"], vm["id"], vm["backup"], vm["host"], vm["config_path"]))
        starting = set(vm["name"] for vm in plan["vms"] if vm["start"])
        for index, group in enumerate(plan["start_groups"]):
            names = [name for name in group["vms"] if name in starting]
            if names:
                self.actions.append("start VM(s) %s%s" % (", ".join(names), " and wait %d s" % group["wait_seconds"]
                                                          if group["wait_seconds"] and index < len(plan["start_groups"]) - 1 else ""))

    # -- changes ------------------------------------------------------------------------------------
    def _break_one(self, relationship):
        current = self.storage.snapmirror.get(relationship)
        if current.state == "broken_off":
            return False
        if current.state == "snapmirrored":
            self.storage.snapmirror.quiesce(current)
        self.storage.snapmirror.break_off(current)
        return True

    def _break(self, plan):
        pending = [entry["relationship"] for _d, entry in sorted(plan["_volumes"].items()) if entry["relationship"].state != "broken_off"]
        if not pending:
            return
        self.journal.intend("break", relationships=[r.destination_path for r in pending])
        for relationship in pending:
            self._break_one(relationship)
        self.journal.done("break")

    def _snaprestore(self, plan):
        if self.journal.state_of("snaprestore") == "done":
            return
        work = [lun for lun in plan["luns"] if lun["restore"] != "none"]
        self.journal.intend("snaprestore", luns=[lun["lun"] for lun in work], snapshots=sorted(set(lun["snapshot"] for lun in work)))
        self.keeper.check()
        done_volumes = set()
        for lun in work:
            entry = plan["_volumes"][lun["volume"]]
            snapshot = next(s for s in self.storage.list_snapshots(entry["volume_ref"], lun["snapshot"]) if s.name == lun["snapshot"])
            if lun["restore"] == "volume":
                if lun["volume"] in done_volumes:
                    continue
                done_volumes.add(lun["volume"])
                if lun["serial"] in self.disks and self.disks[lun["serial"]]["online"]:
                    self.host.call("disk_disconnect", {"serial": lun["serial"]})
                    lun["connected"] = False
                try:
                    self.storage.restore_volume(snapshot)
                except SmhvError as error:
                    if error.code != "SNAPSHOT_BUSY":
                        raise
                    # ONTAP keeps the relationship's newer base snapshot (owned by SnapMirror, for a resync) after the break,
                    # and a volume SnapRestore would delete it: the volume's one LUN is restored alone instead.
                    ref = lun["lun_ref"]
                    self.storage.restore_file(snapshot, ref.path[len("/vol/%s" % ref.volume_name):])
                    self.warnings.append("Volume %s could not be restored as a whole (%s); its LUN %s was restored from snapshot %s "
                                         "instead (single-LUN SnapRestore), which keeps the relationship's base for a resync."
                                         % (lun["volume"], error.message, lun["lun"], lun["snapshot"]))
            else:
                ref = lun["lun_ref"]
                if lun["serial"] in self.disks and self.disks[lun["serial"]]["online"]:
                    self.host.call("disk_disconnect", {"serial": lun["serial"]})
                    lun["connected"] = False
                self.storage.restore_file(snapshot, ref.path[len("/vol/%s" % ref.volume_name):])
        self.journal.done("snaprestore")

    def _connect(self, plan):
        pending = [lun for lun in plan["luns"] if not lun["connected"]]
        if not pending:
            return
        self._ensure_initiator()
        self.journal.intend("connect", luns=[lun["lun"] for lun in pending])
        self.disks = {disk["serial"]: disk for disk in self.host.call("disk_rescan", {}).result["disks"]}
        for lun in pending:
            self._map_and_connect(lun["lun_ref"], lun["access_path"])
            lun["connected"] = True
        self.journal.done("connect")

    def _restore_vms(self, plan, catalog):
        registered = self._registered([vm["id"] for vm in plan["vms"]])
        path_map = {old: new for old, new in self.pairs if old.lower() != new.lower()}
        for vm in plan["vms"]:
            if vm["id"] in registered:
                vm["outcome"] = "present" if vm["action"] == "none" else "restored"
                vm["state"] = registered[vm["id"]]
                continue
            step = "vm~%s" % vm["id"]
            self.journal.intend(step, vm=vm["name"], backup=vm["backup"])
            engine = RestoreEngine(self.session, self.storage, catalog, clock=self.clock)
            result = engine.run(vm["id"], backup=vm["backup"], force=True, start=False, path_map=path_map or None, verify_snapshot=False)
            vm["outcome"], vm["state"] = "restored", result["vm"]["state"]
            vm["luns"] = [{"lun": lun["lun"], "method": lun["method"], "snapshot": lun["snapshot"]} for lun in result["luns"]]
            self.journal.done(step, vm_id=result["vm"]["id"])

    def _start_vms(self, plan):
        by_name = {vm["name"]: vm for vm in plan["vms"]}
        groups = plan["start_groups"]
        for index, group in enumerate(groups):
            ids = [by_name[name]["id"] for name in group["vms"] if by_name[name]["start"]]
            if not ids:
                continue
            reply = self.host.call("vm_start", {"ids": ids}).result
            for item in reply["vms"]:
                vm = next(v for v in plan["vms"] if v["id"] == item["vm_id"])
                vm["state"] = item["state"]
                vm["started"] = item["state_before"] != item["state"]
            if group["wait_seconds"] and index < len(groups) - 1:
                self.sleep(group["wait_seconds"])

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
