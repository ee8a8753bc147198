# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases of a failover (failover.py) that change the DR site: break the mirrors, SnapRestore the destinations to
the recovery point, connect the LUNs, restore the VMs, start them group by group. All but start are journaled, and a
resumed run skips what is done."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import CHECKPOINT_PREFIX
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.parallel import in_parallel
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup


class ChangeSteps:
    """Phases break, snaprestore, connect, restore and start of FailoverEngine."""

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
        in_parallel(self._break_one, pending)
        self.journal.done("break")

    def _snaprestore(self, plan):
        if self.journal.state_of("snaprestore") == "done":
            return
        work = [lun for lun in plan["luns"] if lun["restore"] != "none"]
        self.journal.intend("snaprestore", luns=[lun["lun"] for lun in work], snapshots=sorted(set(lun["snapshot"] for lun in work)))
        self.keeper.check()
        by_volume = {}
        for lun in work:
            luns = by_volume.setdefault(lun["volume"], [])
            if lun["restore"] == "volume" and luns:
                continue  # a volume SnapRestore brings back the whole volume once
            luns.append(lun)
        # The host's disks go offline first (a cluster's CSVs and cluster disks leave the cluster: a failback to a cluster),
        # one agent call at a time (a HostClient runs one call at a time); then the volumes are restored side by side.
        for lun in (lun for luns in by_volume.values() for lun in luns):
            if lun["serial"] in self.disks and self.disks[lun["serial"]]["online"]:
                self._take_offline(lun["serial"])
                lun["connected"] = False
        outcomes = in_parallel(lambda item: self._restore_volume(plan["_volumes"][item[0]], item[1]), sorted(by_volume.items()))
        for warnings in outcomes:
            self.warnings.extend(warnings)
        self.journal.done("snaprestore")

    def _restore_volume(self, entry, luns):
        """SnapRestore the `luns` of one destination volume (`entry` of plan["_volumes"]): the warnings it leaves."""
        warnings, snapshots = [], {}
        for lun in luns:
            if lun["snapshot"] not in snapshots:
                snapshots[lun["snapshot"]] = next(s for s in self.storage.list_snapshots(entry["volume_ref"], lun["snapshot"])
                                                  if s.name == lun["snapshot"])
            snapshot, ref = snapshots[lun["snapshot"]], lun["lun_ref"]
            if lun["restore"] != "volume":
                self.storage.restore_file(snapshot, ref.path[len("/vol/%s" % ref.volume_name):])
                continue
            try:
                self.storage.restore_volume(snapshot)
            except SmhvError as error:
                if error.code != "SNAPSHOT_BUSY":
                    raise
                # ONTAP keeps the relationship's newer base snapshot (owned by SnapMirror, for a resync) after the break,
                # and a volume SnapRestore would delete it: the volume's one LUN is restored alone instead.
                self.storage.restore_file(snapshot, ref.path[len("/vol/%s" % ref.volume_name):])
                warnings.append("Volume %s could not be restored as a whole (%s); its LUN %s was restored from snapshot %s "
                                "instead (single-LUN SnapRestore), which keeps the relationship's base for a resync."
                                % (lun["volume"], error.message, lun["lun"], lun["snapshot"]))
        return warnings

    def _connect(self, plan):
        pending = [lun for lun in plan["luns"] if not lun["connected"]]
        if not pending:
            return
        self._ensure_initiator()
        self.journal.intend("connect", luns=[lun["lun"] for lun in pending])
        self.disks = {disk["serial"]: disk for disk in self.host.call("disk_rescan", {}).result["disks"]}
        if self.on_cluster:  # planning puts every LUN of a cluster at a CSV or a drive letter (_check_cluster_paths)
            self._present_many_to_cluster([(lun["lun_ref"], lun["access_path"]) for lun in pending
                                           if not self._connected_at(lun["lun_ref"], lun["access_path"])])
        else:
            self._present_many([lun for lun in pending if not self._connected_at(lun["lun_ref"], lun["access_path"])])
        for lun in pending:
            lun["connected"] = True
        self.journal.done("connect")

    def _present_many(self, luns):
        """Map each of `luns` (plan entries) to the standalone host's igroup - asked for once per SVM, the maps side by side -
        then connect each disk at its access path: the maps' ONTAP requests overlap instead of waiting for each other."""
        igroups = {}
        for lun in luns:
            ref = lun["lun_ref"]
            if (ref.cluster, ref.svm) not in igroups:
                igroups[(ref.cluster, ref.svm)] = host_igroup(self.storage, ref, self.facts)
        in_parallel(lambda lun: self.storage.san.map_lun(lun["lun_ref"], igroups[(lun["lun_ref"].cluster, lun["lun_ref"].svm)]), luns)
        for lun in luns:
            reply = self.host.call("disk_connect", {"serial": lun["serial"], "access_path": lun["access_path"]}).result
            self.disks[lun["serial"]] = reply["disk"]

    def _restore_vms(self, plan, catalog):
        """Register each VM the DR host (on a cluster: any node) does not have, from its configuration on the LUNs, all in one
        agent call (vm_import_batch: Import-VM -Register with the path map; a checkpoint-method backup's checkpoint applied and
        removed) and one journal step. The LUNs are at the recovery point already (snaprestore), so nothing is copied: the
        restore engine would clone each LUN and copy each VM's files back onto it, a few dozen agent calls per VM. What the
        host has registered is the evidence a re-run goes by, so a VM imported whose answer was lost is not imported again,
        and a failover of many VMs costs the same few WinRM messages as one of a few."""
        registered = self._registered([vm["id"] for vm in plan["vms"]])
        for vm in plan["vms"]:
            if vm["id"] in registered:
                vm["outcome"] = "present" if vm["action"] == "none" else "restored"
                vm["state"] = registered[vm["id"]]
        pending = [vm for vm in plan["vms"] if vm["id"] not in registered]
        copied = self._copied_vm_ids(plan)
        self._import_batch(plan, [vm for vm in pending if vm["id"] not in copied])
        for vm in pending:
            if vm["id"] in copied:
                self._restore_one(vm, catalog)

    def _copied_vm_ids(self, plan):
        """The VMs to restore with a file on a LUN this failover does not SnapRestore: it holds a VM the standalone host runs
        already (from an earlier failover), so it is as that one left it, maybe at another backup; these VMs are restored one
        by one through the restore engine, from a clone of the LUN at their snapshot. (On a cluster every VM is registered
        from the CSVs as they are: the restore engine would copy a whole CSV's VMs file by file.)"""
        if self.on_cluster:
            return set()
        journal = getattr(self, "journal", None)  # none in check mode
        restored = set(journal.merged("snaprestore").get("luns") or []) if journal is not None else set()
        fresh = restored | set(lun["lun"] for lun in plan["luns"] if lun["restore"] != "none")
        return set(vm["id"] for vm in plan["vms"] if vm["action"] == "restore" and any(lun["lun"] not in fresh for lun in self._luns_of(plan, vm)))

    @staticmethod
    def _luns_of(plan, vm):
        return [lun for lun in plan["luns"] if vm["name"] in lun["vms"] or vm["id"] in lun["vms"]]

    def _restore_one(self, vm, catalog):
        step = "vm~%s" % vm["id"]
        self.journal.intend(step, vm=vm["name"], backup=vm["backup"])
        path_map = dict((old, new) for old, new in self.pairs if old.lower() != new.lower())
        engine = RestoreEngine(self.session, self.storage, catalog, clock=self.clock)
        result = engine.run(vm["id"], backup=vm["backup"], force=True, start=False, path_map=path_map or None, verify_snapshot=False)
        vm["outcome"], vm["state"] = "restored", result["vm"]["state"]
        vm["luns"] = [{"lun": lun["lun"], "method": lun["method"], "snapshot": lun["snapshot"]} for lun in result["luns"]]
        self.journal.done(step, vm_id=result["vm"]["id"])

    def _import_batch(self, plan, pending):
        if not pending:
            return
        methods = {record.name: record.method for record in plan["_records"]}
        pairs = [(old, new) for old, new in plan["_vm_pairs"] if old.lower() != new.lower()]
        self.journal.intend("register", vms=[vm["id"] for vm in pending], node=self.host.name)
        args = {"paths": [vm["config_path"] for vm in pending],
                "discard_checkpoints": [CHECKPOINT_PREFIX + vm["backup"] if methods[vm["backup"]] == "checkpoint" else "" for vm in pending]}
        if pairs:
            args.update(map_from=[old for old, _new in pairs], map_to=[new for _old, new in pairs])
        replies = self.host.call("vm_import_batch", args).result["vms"]
        for vm, reply in zip(pending, replies):
            self.vm_nodes[vm["id"]] = self.host.name
            if self.on_cluster:
                self.clustered[vm["id"]] = False
            vm["outcome"], vm["state"] = "restored", reply["state"]
            # registered in place from these LUNs, as the snaprestore phase left them at the recovery point
            vm["luns"] = [{"lun": lun["lun"], "method": "in_place", "snapshot": lun["snapshot"]} for lun in self._luns_of(plan, vm)]
        self.journal.done("register")

    def _start_vms(self, plan):
        by_name = {vm["name"]: vm for vm in plan["vms"]}
        groups = plan["start_groups"]
        for index, group in enumerate(groups):
            ids = [by_name[name]["id"] for name in group["vms"] if by_name[name]["start"]]
            if not ids:
                continue
            for item in self._start_on(ids):
                vm = next(v for v in plan["vms"] if v["id"] == item["vm_id"])
                vm["state"] = item["state"]
                vm["started"] = item["state_before"] != item["state"]
            if group["wait_seconds"] and index < len(groups) - 1:
                self.sleep(group["wait_seconds"])
