# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan phase of a failover (failover.py) from the catalog at the DR site: the VMs, the recovery point of each
dataset, each destination LUN and where it goes on the DR host, the start groups, and the actions they make. The pure
rules it applies are plan.py's; this side reads the catalog, the DR site's storage and the DR host."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr import plan as dr_plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.cluster import DRILL_CSV_PREFIX, is_csv_path
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.parallel import in_parallel
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import mapped, path_pairs, with_separator

DRILL_ROOT = "C:\\SMHV\\Drills"  # where drills (drill.py) connect their clones: VMs registered from there are a drill's


def is_drill_path(path):
    """Whether a VM registered from `path` is a drill's: under DRILL_ROOT, or on a drill's CSV of a DR cluster."""
    lowered = (path or "").lower()
    return lowered.startswith(DRILL_ROOT.lower() + "\\") or lowered.startswith(DRILL_CSV_PREFIX.lower())


class PlanSteps:
    """Phase plan of FailoverEngine (a drill overrides where LUNs go, _lun_access_path)."""

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
            self._prefetch_snapshots(candidates, vm_ids, named, destination_of, snapshots_on)
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
        # every VM on these volumes' LUNs, not only the chosen ones: a LUN a VM of the DR host runs on (an earlier failover's)
        # is never SnapRestored under it
        on_luns = set(vm_id for entry in volumes.values() for lun in dr_plan.source_luns(records[entry["dataset"]]).values()
                      if lun["volume"] == entry["source"] for vm_id in lun["vms"])
        registered = self._registered(sorted(set(chosen) | on_luns))
        luns, lun_of_serial = [], {}
        # each destination volume's LUNs, the volumes side by side (one ONTAP request each)
        luns_on = dict(zip(sorted(volumes), in_parallel(lambda destination: self.storage.volume_luns(
            volume_of(destination).cluster, volume_of(destination).svm, volume_of(destination).name), sorted(volumes))))
        for destination, entry in sorted(volumes.items()):
            volume = volume_of(destination)
            record = records[entry["dataset"]]
            sources = {serial: lun for serial, lun in dr_plan.source_luns(record).items() if lun["volume"] == entry["source"]}
            for lun in sources.values():
                lun["volume"] = destination
            destination_luns = luns_on[destination]
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
                connected = bool(disk and disk["online"] and any(with_separator(p).lower() == access_path.lower()
                                                                 for p in disk["access_paths"]))
                plan = {"lun": "%s:%s" % (lun.cluster, lun.path), "serial": lun.serial, "source_serial": serial, "volume": destination,
                        "snapshot": entry["snapshot"], "source_access_path": source_root, "access_path": access_path,
                        "restore": "none" if in_use or self._snaprestored() else entry["method"], "connected": connected,
                        "csv": self.on_cluster and is_csv_path(access_path),
                        "vms": [known[vm_id]["name"] if vm_id in known else vm_id for vm_id in vm_ids], "lun_ref": lun}
                lun_of_serial[serial] = plan
                luns.append(plan)
        self._check_cluster_paths(luns)
        vm_pairs = path_pairs({lun["source_access_path"]: lun["access_path"] for lun in luns})
        groups = dr_plan.start_groups([known[vm_id]["name"] for vm_id in chosen], self.start_order)
        group_of = {name.lower(): index for index, (names, _wait) in enumerate(groups) for name in names}
        vms = []
        for vm_id in chosen:
            dataset = next(name for name, ids in by_dataset.items() if vm_id in ids)
            record = records[dataset]
            backed_up = next(vm for vm in record.vms if vm.vm_id == vm_id)
            configs = [f.path for f in backed_up.files if f.kind == "config" and f.path.lower().endswith((".vmcx", ".xml"))]
            vms.append({"id": vm_id, "name": backed_up.name, "dataset": dataset, "backup": record.name, "host": self.session.name,
                        "source_host": backed_up.host, "config_path": mapped(configs[0], vm_pairs) if configs else None,
                        "disks": [mapped(f.path, vm_pairs) for f in backed_up.files if f.kind == "vhd"],
                        "action": "none" if vm_id in registered else "restore", "start_group": group_of[backed_up.name.lower()],
                        "highly_available": self.clustered.get(vm_id, False) if self.on_cluster else None,
                        "start": bool(self.start) and registered.get(vm_id) != "Running"})
        mirrors = []
        for destination, entry in sorted(volumes.items()):
            relationship = entry["relationship"]
            mirrors.append({"source": "%s:%s" % (relationship.source_cluster, relationship.source_path), "destination": destination,
                            "state": relationship.state, "action": "none" if relationship.state == "broken_off" else "break"})
        return {"snapinfo": dict(self.snapinfo_plan), "cluster": self._cluster_plan(luns), "recovery_points": recovery_points, "mirrors": mirrors,
                "volumes": [{key: entry[key] for key in ("volume", "source", "dataset", "backup", "snapshot", "method", "lun_count")}
                            for _d, entry in sorted(volumes.items())],
                "luns": luns, "vms": vms, "start_groups": [{"vms": names, "wait_seconds": wait} for names, wait in groups],
                "_volumes": volumes, "_records": list(records.values()), "_vm_pairs": vm_pairs}

    @staticmethod
    def _prefetch_snapshots(candidates, vm_ids, named, destination_of, snapshots_on):
        """Ask for the snapshots (and the volume) of each destination the first backup that can be the recovery point needs,
        the volumes side by side, before choose_recovery_point asks for them one by one (then from the cache)."""
        for record in candidates:
            if (named and record.name != named) or not all(record.includes(vm_id) for vm_id in vm_ids):
                continue
            wanted = sorted(set(destination_of[source] for source in dr_plan.needed_snapshots(record, vm_ids) if source in destination_of))
            in_parallel(snapshots_on, wanted)
            return

    def _lun_access_path(self, lun, source_root):
        """Where a destination LUN goes on the DR host: its source LUN's access path, through path_map."""
        return mapped(source_root, self.pairs)

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
        args = {"ids": sorted(vm_ids), "require_all": False}
        if self.on_cluster:  # a VM of the cluster may be on any node
            found = []
            for node, outcome in self.session.call_nodes("vm_inventory", args).items():
                if isinstance(outcome, SmhvError):
                    raise outcome
                found.extend(outcome.result["vms"])
                self.vm_nodes.update((vm["id"], node) for vm in outcome.result["vms"])
            self.clustered.update((vm["id"], bool(vm["clustered"])) for vm in found)
        else:
            found = self.host.call("vm_inventory", args).result["vms"]
        drilled = [vm["name"] for vm in found if is_drill_path(vm["config_path"] or vm["configuration_location"])]
        if drilled and self.mode_refuses_drills:
            raise SmhvError("VM_EXISTS", "A DR drill of %s runs on %s (VM(s) %s, with the same ids): end it (action: end_drill) before "
                            "failing over to that host." % (self.source_scope, self.session.name, ", ".join(sorted(drilled))),
                            {"drill_vms": sorted(drilled), "host": self.session.name})
        return {vm["id"]: vm["state"] for vm in found}

    def _describe(self, plan):
        snapinfo = plan["snapinfo"]
        if snapinfo["action"] == "restore" and snapinfo["beside"]:
            self.actions.append("break SnapMirror %s -> %s, connect SnapInfo LUN %s at %s on %s and restore it from %s; %s keeps its own "
                                "SnapInfo %s, whose catalog records the catalog of %s at %s beside it (smhv_backup_info of %s lists its backups)"
                                % (snapinfo["source"], snapinfo["destination"], snapinfo["lun"], snapinfo["access_path"], self.session.name,
                                   snapinfo["snapshot"], self.session.name, snapinfo["beside"], self.source_scope, snapinfo["path"],
                                   self.session.name))
        elif snapinfo["action"] == "restore":
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
            if not lun["connected"] and plan["cluster"]:
                self.actions.append("map LUN %s to the nodes of %s (%s) and add it to the cluster as %s %s" % (
                    lun["lun"], self.session.name, ", ".join(plan["cluster"]["nodes"]), "a CSV at" if lun["csv"] else "a cluster disk at",
                    lun["access_path"]))
            elif not lun["connected"]:
                self.actions.append("map LUN %s to %s and connect it at %s" % (lun["lun"], self.session.name, lun["access_path"]))
        copied = self._copied_vm_ids(plan)
        for vm in plan["vms"]:
            if vm["action"] == "restore" and plan["cluster"]:
                self.actions.append("register VM %s (%s) of backup %s on node %s of %s from %s" % (
                    vm["name"], vm["id"], vm["backup"], self.session.owner_node, vm["host"], vm["config_path"]))
            elif vm["action"] == "restore" and vm["id"] in copied:
                self.actions.append("restore VM %s (%s) from backup %s on %s at %s, its files copied from a clone at the snapshot (a LUN of it "
                                    "holds a VM %s runs already, and is not restored)"
                                    % (vm["name"], vm["id"], vm["backup"], vm["host"], vm["config_path"], vm["host"]))
            elif vm["action"] == "restore":
                self.actions.append("register VM %s (%s) of backup %s on %s from %s"
                                    % (vm["name"], vm["id"], vm["backup"], vm["host"], vm["config_path"]))
        lone = [vm["name"] for vm in plan["vms"] if vm["highly_available"] is False]
        if lone:
            self.actions.append("make VM(s) %s highly available on cluster %s (Add-ClusterVirtualMachineRole)" % (", ".join(lone), self.session.name))
        starting = set(vm["name"] for vm in plan["vms"] if vm["start"])
        for index, group in enumerate(plan["start_groups"]):
            names = [name for name in group["vms"] if name in starting]
            if names:
                self.actions.append("start VM(s) %s%s" % (", ".join(names), " and wait %d s" % group["wait_seconds"]
                                                          if group["wait_seconds"] and index < len(plan["start_groups"]) - 1 else ""))
