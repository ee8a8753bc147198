# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DR drill (smhv_failover action=drill / end_drill): the failover's VMs brought up on the DR host from FlexClones of
the SnapMirror destinations, under drill names and cut off from the network, while the mirrors keep updating.

    discover   as a failover (relationships, the SnapInfo destination volume, LUN and newest SnapInfo snapshot)
    cleanup    an earlier or aborted drill of the same source scope on this DR host is ended first
    snapinfo   a FlexClone of the SnapInfo destination volume at that snapshot, its LUN connected under
               C:\\SMHV\\Drills\\<scope>\\: the drill's catalog (the failover's plan reads it; the drill's journal and lease live in it)
    plan       as a failover: VMs, recovery point per dataset, destination LUNs; each goes to a folder of its own (on a DR
               cluster a CSV of its own, and the drill VMs become cluster roles: drill_cluster.py)
    clones     a FlexClone of each destination volume at the recovery point's snapshot, its LUNs mapped to the DR host's
               igroup and connected at those folders
    register   each VM registered from its clone (Import-VM -Register, the backup's checkpoint applied and removed) as
               <name><suffix>, every network adapter disconnected
    start      the drill VMs started
    check      each one running with the guest's heartbeat and no network adapter connected (up to check_timeout seconds);
               then the optional guest check script, once per drill VM that passed, on the DR host (agent op run_script,
               as a backup's pre/post-script): a non-zero exit code, a timeout or a missing script fails that VM only

Nothing the collection did not make is touched: SnapMirror relationships are never quiesced or broken, and the drill's
objects carry its names (FlexClones smhv_drill_<scope>_<volume>, folders under C:\\SMHV\\Drills\\<scope>, VMs registered
from there). end_drill, and the next drill, find them by those names and remove VMs, disks, folders, maps and clones; an
aborted drill is therefore cleaned by the next run, whatever step it stopped at.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import CHECKPOINT_PREFIX
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import Script, script_variables
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.clones import VolumeCloneMount
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.cluster import is_csv_path
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.drill_cluster import ClusterDrillSteps
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import refuse_controller_vms
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failover import FailoverEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planning import DRILL_ROOT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import snapinfo_host
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import mapped, path_pairs, with_separator

OPERATION = "drill"
CLONE_PREFIX = "smhv_drill_"
# What a guest check script that did not run to an exit code reports; any other agent error stops the drill as usual.
CHECK_SCRIPT_FAILURES = ("FILE_NOT_FOUND", "SCRIPT_TIMEOUT")


class DrillEngine(ClusterDrillSteps, FailoverEngine):
    """Start (run) or end (end) a drill of `source_scope`'s VMs on the DR host or DR cluster of `session` (a cluster's
    differences: drill_cluster.py)."""

    def __init__(self, session, storage, source_scope, snapinfo_path, suffix="-drill", check_timeout=300, poll=2.0, switch=None,
                 check_script=None, **options):
        super().__init__(session, storage, source_scope, snapinfo_path, **options)
        self.check_script = Script.from_option(check_script)  # refused (INVALID_ARGUMENT) before anything changes
        self.suffix = suffix
        self.switch = switch  # an isolated virtual switch for the drill VMs' adapters; None: adapters disconnected
        self.mode_refuses_drills = False
        self.check_timeout = check_timeout
        self.poll = poll
        self.tag = snapinfo_host(source_scope)
        self.folder = "%s\\%s" % (DRILL_ROOT, self.tag)

    def clone_name(self, volume_name):
        return "%s%s_%s" % (CLONE_PREFIX, self.tag, volume_name)

    def _lun_access_path(self, lun, source_root):
        if self.on_cluster:
            return self._drill_csv_path(lun)
        return "%s\\%s_%s\\" % (self.folder, lun.volume_name, lun.path.rsplit("/", 1)[-1])

    # -- start a drill ------------------------------------------------------------------------------
    def run(self, vms=None, datasets=None, backup=None, path_map=None, luns=None, start=True, start_order=None, check_mode=False,
            snapinfo_lun=None):
        started = self.monotonic()
        self.pairs = []
        self.lun_hints = {item["lun"].split(":", 1)[-1].lower() if not item["lun"].startswith("/") else item["lun"].lower():
                          with_separator(item["access_path"]) for item in luns or []}
        self.selection = {"vms": list(vms or []), "datasets": list(datasets or []), "backup": backup}
        self.start, self.start_order = True, start_order
        self._phase("discover", self._discover, snapinfo_lun)
        self.snapinfo["present"] = False  # a drill never uses a SnapInfo the DR host may have: it reads the mirror's
        leftovers = self._phase("leftovers", self._leftovers)
        relative = self.snapinfo_path[len(self.snapinfo_root):]
        if check_mode:
            with VolumeCloneMount(self.storage, self.session, self.snapinfo["volume_ref"], self.snapinfo["snapshot_ref"],
                                  "smhv_drplan_%s" % self.clock().strftime("%Y%m%d%H%M%S")) as mount:
                catalog = Catalog(HostRepository(self.host, mount.path_of(self.snapinfo["lun_ref"]) + relative))
                plan = self._phase("plan", self._plan, catalog)
            self._drill_plan(plan, leftovers)
            return self._drill_result(plan, started, leftovers, check_mode=True)
        if self._has(leftovers):
            self._phase("cleanup", self._remove, leftovers)
        catalog = self._phase("snapinfo", self._clone_snapinfo, relative)
        held = catalog.acquire_lease(self.session.name, "smhv_failover drill of %s on %s" % (self.source_scope, self.session.name),
                                     self.lease_ttl, heartbeat=heartbeat_seconds(self.lease_ttl))
        keeper_catalog = Catalog(HostRepository(self.session.spare_owner(), catalog.repository.root))
        with LeaseKeeper(keeper_catalog, held, self.lease_ttl) as keeper:
            journal = OperationJournal.begin(catalog, OPERATION, self.session.name, held, subject=self.source_scope)
            self.journal, self.keeper = journal, keeper
            plan = self._phase("plan", self._plan, catalog)
            self._drill_plan(plan, leftovers)
            journal.done("plan", backups={rp["dataset"]: rp["backup"] for rp in plan["recovery_points"]})
            steps = [("clones", self._clone_volumes), ("register", self._register)] + (
                [("cluster_roles", self._drill_roles)] if self.on_cluster else []) + [("start", self._start_drill), ("check", self._check)]
            for name, function in steps:
                journal.intend(name)
                self._phase(name, function, plan)
                journal.done(name)
            journal.close()
        return self._drill_result(plan, started, leftovers)

    def _drill_plan(self, plan, leftovers):
        plan["mirrors"] = [dict(mirror, action="none") for mirror in plan["mirrors"]]
        clones = {}
        for lun in plan["luns"]:
            lun["restore"] = "none"
            lun["clone"] = self.clone_name(lun["lun_ref"].volume_name)
            clones[lun["clone"]] = {"clone": lun["clone"], "volume": lun["volume"], "snapshot": lun["snapshot"]}
        plan["clones"] = [clones[name] for name in sorted(clones)]
        for vm in plan["vms"]:
            vm["drill_name"] = vm["name"] + self.suffix
            vm["action"] = "register"
        plan["snapinfo"] = dict(plan["snapinfo"], action="clone", clone=self.clone_name(self.snapinfo["volume_ref"].name),
                                access_path=self.folder + "\\snapinfo\\")
        self.public_plan = self._public(plan)
        if self._has(leftovers):
            self.actions.append("end the earlier drill first: %s" % self._describe_leftovers(leftovers))
        self.actions.append("FlexClone %s of SnapInfo volume %s at snapshot %s, connected at %s" % (
            plan["snapinfo"]["clone"], plan["snapinfo"]["destination"], plan["snapinfo"]["snapshot"], plan["snapinfo"]["access_path"]))
        for clone in plan["clones"]:
            self.actions.append("FlexClone %s of volume %s at snapshot %s" % (clone["clone"], clone["volume"], clone["snapshot"]))
        for lun in plan["luns"]:
            where = "the nodes of %s and add it to the cluster as a CSV at" % self.session.name if self.on_cluster else \
                "%s and connect it at" % self.session.name
            self.actions.append("map the clone of LUN %s to %s %s" % (lun["lun"], where, lun["access_path"]))
        for vm in plan["vms"]:
            network = "on isolated switch %s" % self.switch if self.switch else "disconnected"
            script = ", then run guest check %s" % self.check_script.path if self.check_script else ""
            self.actions.append("register VM %s (%s) from backup %s as %s with its network adapters %s, start and check it%s"
                                % (vm["name"], vm["id"], vm["backup"], vm["drill_name"], network, script))
        if self.on_cluster:
            self.actions.append("make drill VM(s) %s highly available on cluster %s, registered on node %s" % (
                ", ".join(vm["drill_name"] for vm in plan["vms"]), self.session.name, self.session.owner_node))

    # -- the drill's objects ------------------------------------------------------------------------
    def _leftovers(self):
        """What a drill of this scope left on the DR site: its FlexClones, the drill VMs (registered from its folder) and the
        clones' disks on the DR host."""
        clones = self.storage.find_volumes(CLONE_PREFIX + self.tag + "_*")
        luns = [lun for clone in clones for lun in self.storage.volume_luns(clone.cluster, clone.svm, clone.name)]
        folder = self.folder.lower() + "\\"
        vms = self._cluster_drill_vms() if self.on_cluster else [
            vm for vm in self.host.call("vm_inventory", {"require_all": False}).result["vms"]
            if (vm["config_path"] or vm["configuration_location"] or "").lower().startswith(folder)]
        refuse_controller_vms(self.session, vms, "drill cleanup (turns off and removes drill VMs)")  # before any removal, check mode too
        disks = self.host.call("disk_rescan", {}, True).result["disks"]
        serials = set(lun.serial for lun in luns)
        return {"clones": clones, "luns": luns, "vms": vms, "disks": [disk for disk in disks if disk["serial"] in serials]}

    @staticmethod
    def _has(leftovers):
        return any(leftovers[key] for key in ("clones", "vms", "disks"))

    @staticmethod
    def _describe_leftovers(leftovers):
        parts = []
        if leftovers["vms"]:
            parts.append("remove VM(s) %s" % ", ".join(vm["name"] for vm in leftovers["vms"]))
        if leftovers["disks"]:
            parts.append("disconnect %d disk(s)" % len(leftovers["disks"]))
        if leftovers["clones"]:
            parts.append("unmap and delete FlexClone(s) %s" % ", ".join("%s:%s" % (c.cluster, c.path) for c in leftovers["clones"]))
        return "; ".join(parts)

    def _remove(self, leftovers):
        """Remove a drill: VMs (turned off, registration removed), the clones' disks and folders, their maps, the clones."""
        if self.on_cluster:
            self._remove_from_cluster(leftovers)
        else:
            self._remove_from_host(leftovers)
        # The SnapInfo clone goes last: it holds the drill's journal.
        for clone in sorted(leftovers["clones"], key=lambda c: c.name == self.clone_name(self.snapinfo["volume_ref"].name)):
            self.storage.delete_volume(clone)
        for folder in (DRILL_ROOT,):
            try:
                self.host.call("file_delete", {"paths": [folder]})
            except SmhvError as error:
                if error.code != "DIRECTORY_NOT_EMPTY":
                    raise
        if self.on_cluster:
            self._rescan_nodes()
        else:
            self.host.call("disk_rescan")

    def _remove_from_host(self, leftovers):
        ids = [vm["id"] for vm in leftovers["vms"]]
        if ids:
            self.host.call("vm_stop", {"ids": ids, "turn_off": True})
            self.host.call("vm_remove", {"ids": ids})
        for lun in leftovers["luns"]:
            self.host.call("disk_disconnect", {"serial": lun.serial})
        # The folders the drill's disks were connected at (disk_connect made them; they outlive the access path), by name.
        snapinfo_clone = self.clone_name(self.snapinfo["volume_ref"].name)
        folders = [self.folder + "\\snapinfo"]
        for lun in leftovers["luns"]:
            volume = lun.volume_name[len(CLONE_PREFIX + self.tag + "_"):]
            if lun.volume_name != snapinfo_clone:
                folders.append("%s\\%s_%s" % (self.folder, volume, lun.path.rsplit("/", 1)[-1]))
        self.host.call("file_delete", {"paths": folders})
        self.host.call("file_delete", {"paths": [self.folder]})
        for lun in leftovers["luns"]:
            self.storage.san.unmap_lun(lun, host_igroup(self.storage, lun, self.facts))

    def _clone_one(self, volume, snapshot):
        """The FlexClone of `volume` for this drill (made at `snapshot` unless it exists) and its LUNs."""
        name = self.clone_name(volume.name)
        found = self.storage.find_volumes(name)
        clone = found[0] if found else self.storage.clone_volume(volume, snapshot, name)
        return clone, self.storage.volume_luns(clone.cluster, clone.svm, clone.name)

    def _connect_clone_lun(self, lun, access_path):
        self._ensure_initiator()
        if self.on_cluster and is_csv_path(access_path):
            self._present_to_cluster(lun, access_path)
            return
        self.storage.san.map_lun(lun, host_igroup(self.storage, lun, self.facts))
        self.host.call("disk_connect", {"serial": lun.serial, "access_path": access_path})

    def _clone_snapinfo(self, relative):
        _clone, luns = self._clone_one(self.snapinfo["volume_ref"], self.snapinfo["snapshot_ref"])
        name = self.snapinfo["lun_ref"].path.rsplit("/", 1)[-1]
        (lun,) = [item for item in luns if item.path.rsplit("/", 1)[-1] == name]
        access_path = self.folder + "\\snapinfo\\"
        self._connect_clone_lun(lun, access_path)
        return Catalog(HostRepository(self.host, access_path + relative))

    def _clone_volumes(self, plan):
        by_volume = {}
        for lun in plan["luns"]:
            by_volume.setdefault(lun["volume"], []).append(lun)
        for volume_key, luns in sorted(by_volume.items()):
            entry = plan["_volumes"][volume_key]
            snapshot = next(s for s in self.storage.list_snapshots(entry["volume_ref"], luns[0]["snapshot"]) if s.name == luns[0]["snapshot"])
            _clone, clone_luns = self._clone_one(entry["volume_ref"], snapshot)
            by_name = {item.path.rsplit("/", 1)[-1]: item for item in clone_luns}
            for lun in luns:
                clone_lun = by_name[lun["lun_ref"].path.rsplit("/", 1)[-1]]
                self._connect_clone_lun(clone_lun, lun["access_path"])
                lun["clone_serial"] = clone_lun.serial

    def _register(self, plan):
        pairs = path_pairs({lun["source_access_path"]: lun["access_path"] for lun in plan["luns"]})
        for vm in plan["vms"]:
            record = next(r for r in self._records(plan) if r.name == vm["backup"])
            backed_up = next(item for item in record.vms if item.vm_id == vm["id"])
            config = next(f.path for f in backed_up.files if f.kind == "config" and f.path.lower().endswith((".vmcx", ".xml")))
            args = {"path": mapped(config, pairs), "map_from": [old for old, _new in pairs], "map_to": [new for _old, new in pairs],
                    "new_name": vm["drill_name"]}
            if self.switch:
                args["switch_name"] = self.switch
            else:
                args["disconnect_network"] = True
            if record.method == "checkpoint":
                args["discard_checkpoint"] = CHECKPOINT_PREFIX + record.name
            self.host.call("vm_import", args)
            vm["outcome"] = "registered"

    def _records(self, plan):
        return plan["_records"]

    def _start_drill(self, plan):
        reply = self.host.call("vm_start", {"ids": [vm["id"] for vm in plan["vms"]]}).result
        for item in reply["vms"]:
            next(vm for vm in plan["vms"] if vm["id"] == item["vm_id"])["state"] = item["state"]

    def _check(self, plan):
        deadline = self.monotonic() + self.check_timeout
        ids = [vm["id"] for vm in plan["vms"]]
        while True:
            health = {item["vm_id"]: item for item in self.host.call("vm_health", {"ids": ids}).result["vms"]}
            done = all(item["state"] == "Running" and item["heartbeat"] for item in health.values()) and len(health) == len(ids)
            if done or self.monotonic() >= deadline:
                break
            self.sleep(self.poll)
        for vm in plan["vms"]:
            item = health.get(vm["id"], {})
            switches = item.get("switches") or []
            isolated = set(switches) <= set([self.switch]) if self.switch else not switches
            vm["health"] = {"state": item.get("state"), "heartbeat": item.get("heartbeat"), "network_connected": item.get("network_connected"),
                            "switches": switches, "isolated": isolated}
            vm["outcome"] = "passed" if (item.get("state") == "Running" and item.get("heartbeat") and isolated) else "failed"
            if self.check_script:
                vm["check_script"] = self._run_check_script(plan, vm) if vm["outcome"] == "passed" else None
                if vm["check_script"] and vm["check_script"]["exit_code"] != 0:
                    vm["outcome"] = "failed"

    def _run_check_script(self, plan, vm):
        """The guest check of one drill VM on the DR host, with the backup's variables (as a restore's post-script has them)
        and the VM's: $DrillVMName, $VMName, $VMId. Its exit code and output, or the agent's error when it did not end."""
        record = next(r for r in self._records(plan) if r.name == vm["backup"])
        variables = dict(script_variables(record.name, record.time, record.snapinfo_snapshot or ""),
                         DrillVMName=vm["drill_name"], VMName=vm["name"], VMId=vm["id"])
        args = {"path": self.check_script.path, "arguments": self.check_script.arguments_for(variables), "environment": variables,
                "timeout_seconds": self.check_script.timeout}
        try:
            reply = self.host.call("run_script", args).result
        except SmhvError as error:
            if error.code not in CHECK_SCRIPT_FAILURES:
                raise
            return {"path": self.check_script.path, "exit_code": None, "stdout": error.details.get("stdout", ""), "stderr": "",
                    "error": {"code": error.code, "message": error.message}}
        return {"path": self.check_script.path, "exit_code": reply["exit_code"], "stdout": reply["stdout"], "stderr": reply["stderr"],
                "error": None}

    # -- end a drill --------------------------------------------------------------------------------
    def end(self, check_mode=False, snapinfo_lun=None):
        started = self.monotonic()
        self._phase("discover", self._discover, snapinfo_lun)
        leftovers = self._phase("leftovers", self._leftovers)
        actions = [self._describe_leftovers(leftovers)] if self._has(leftovers) else []
        if actions and not check_mode:
            self._phase("cleanup", self._remove, leftovers)
        return {"changed": bool(actions), "action": "end_drill", "source_scope": self.source_scope, "dr_host": self.session.name,
                "actions": actions, "removed": {"vms": [vm["name"] for vm in leftovers["vms"]],
                                                "clones": ["%s:%s" % (c.cluster, c.path) for c in leftovers["clones"]],
                                                "disks": [disk["serial"] for disk in leftovers["disks"]]},
                "rto": {"total": round(self.monotonic() - started, 3), "phases": list(self.phases)}, "warnings": list(self.warnings)}

    def _drill_result(self, plan, started, leftovers, check_mode=False):
        result = self._result(plan, started, check_mode=check_mode)
        result["action"] = "drill"
        result["changed"] = True
        for vm in result["vms"]:
            if check_mode:
                vm["outcome"] = "planned"
        result["passed"] = not check_mode and all(vm.get("outcome") == "passed" for vm in result["vms"])
        result["ended_earlier_drill"] = self._has(leftovers)
        return result
