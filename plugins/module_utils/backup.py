# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup engine (DESIGN §5): one dataset's VMs in one scope, captured by one snapshot per volume.

    engine = BackupEngine(scope, storage, catalog, snapinfo_step)
    result = engine.run("prod", BackupOptions.from_policy(policy), check_mode=False)

Steps, each timed and named in errors:

    catalog         the dataset, the scope's lease and the dataset's VM index, in one read
    inventory       vm_inventory of the dataset's VMs on every node, one call per node, in parallel
    map             their files -> LUN serials -> ONTAP LUNs and volumes (one batched lookup per cluster)
    validate        the dataset rules again, VM states (saved/off need allow_saved_state, migrating VMs
                    are left out alone), the method, the snapshot limit of every volume
    lease           the scope's lease: one backup per scope at a time
    pre_script      on every member host (or the one named)
    checkpoint      checkpoint method: backup_checkpoint on every node, in parallel, one call each: the
                    inventory of the dataset's VMs there and production-only checkpoints of the running ones
                    (the agent applies the saved-state/off/migration policy), then map and validate again
    snapshot        one snapshot per volume, taken together (a consistency-group snapshot where ONTAP can);
                    vss_provider: the VSS backup on the coordinator, then its snapshot pair renamed
    release_checkpoints   the checkpoints removed (Hyper-V merges them)
    record          the backup record in the scope's SnapInfo catalog
    replication     SnapMirror / SnapVault updates, on the destination clusters
    retention       expired backups of the dataset and retention tag deleted (never the last good one;
                    busy snapshots kept, with a warning, for the next run)
    post_script     with $VMSnapshot, $SnapInfoName and $SnapInfoSnapshot
    snapinfo        the SnapInfo snapshot (smhv_snapinfo_<scope>_<stamp>)
    release         the lease released

The checkpoint method's inventory is the checkpoint call itself (a host's round trips are what a
backup costs there: PSRP open 2, backup_checkpoint 2, checkpoint_remove 2, close 1), so its map and
validate steps run after the lease and with the checkpoints made; a rule that fails then (a VM gone,
a disk off ONTAP, a saved VM not allowed, a volume over its snapshot limit) fails the backup like any
later step. In check mode, for crash-consistent and VSS provider backups, and when a pre-script must
run on the member hosts first, inventory, map and validate run before the lease, as plain reads.

A failure at or after `lease` is compensated before the error is raised: checkpoints removed (by name,
on every host asked, so even a call whose answer was lost is cleaned up), this backup's snapshots
deleted, an ok record replaced by a failed one (or a failed one written), the lease released. The
error keeps the failure's code, names the step, and says in `details.undo` what was undone and what
was left. Failures before the lease (inventory, validation, SCOPE_BUSY) change nothing and record nothing.

A cluster is one scope, coordinated from the node owning the core cluster group (SMHV's distributed
backup): checkpoints are taken on each VM's owner node, and a CSV volume gets one snapshot whatever
the number of nodes running VMs on it.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket
import time
import types
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.backup_plan import (
    backup_record, choose_method, classify, names_of, script_variables, volume_key)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import LAYOUT, backup_file_name, parse_backup_file_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import ERROR_CODES, SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap_models import SnapshotDeletion, SnapshotInfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_budget import SNAPSHOTS_PER_BACKUP
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_dataset import ERROR, validate_dataset
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_names import backup_name, snapinfo_snapshot_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules_retention import RetentionCandidate, plan_retention
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import call_many, require_all

DEFAULT_LEASE_TTL = datetime.timedelta(minutes=30)
SNAPSHOT_COMMENT = "netapp_hyperv.smhv backup %s of dataset %s"
CHECKPOINT_PREFIX = "smhv_"
# Volumes whose expired snapshots retention deletes at the same time.
PARALLEL_VOLUMES = 8
MIRROR_STATES = ("snapmirrored",)
# Errors of a host call that was never sent, unless they say may_have_run: no connection, TLS or authentication.
NOT_SENT_CODES = ("HOST_UNREACHABLE", "HOST_TLS_ERROR", "HOST_AUTH_FAILED")
# Snapshots ONTAP takes itself (schedules, SnapMirror): never mistaken for the VSS provider's.
ONTAP_OWN_PREFIXES = ("snapmirror.", "hourly.", "daily.", "weekly.", "nightly.", "vserverdr.")


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _all_at_once(functions):
    with ThreadPoolExecutor(max_workers=min(8, len(functions))) as pool:
        for future in [pool.submit(function) for function in functions]:
            future.result()


def _quietly(function):
    """Work done ahead of its step: if it fails, the step does it again, and the error is that step's."""
    try:
        function()
    except Exception:  # pylint: disable=broad-except
        pass


def default_holder(dataset):
    return "smhv_backup of dataset %s from %s (pid %d)" % (dataset, socket.gethostname(), os.getpid())


class StepFailed(Exception):
    def __init__(self, step, error):
        super().__init__(step)
        self.step = step
        self.error = error


class BackupEngine:
    """One backup of a dataset in one scope. `scope` provides: `name`, `kind` (cluster|standalone),
    `coordinator` (a HostClient), `coordinator_facts` (its host_facts) and `node_clients()` ({node name:
    HostClient}, the coordinator included). `snapinfo_step(when, mirror, check_mode)` takes the SnapInfo
    snapshot and returns its name; its optional attribute `prepare()` does the step's reads ahead (the engine
    calls it while ONTAP takes the backup's snapshot)."""

    def __init__(self, scope, storage, catalog, snapinfo_step, clock=_utcnow, monotonic=time.monotonic,
                 lease_ttl=DEFAULT_LEASE_TTL, lease_wait=0.0, lease_poll=2.0, holder=None, sleep=time.sleep):
        self.scope = scope
        self.storage = storage
        self.catalog = catalog
        self.snapinfo_step = snapinfo_step
        self.clock = clock
        self.monotonic = monotonic
        self.lease_ttl = lease_ttl
        self.lease_wait = lease_wait
        self.lease_poll = lease_poll
        self.holder = holder
        self.sleep = sleep
        # state of one run
        self.timings, self.warnings, self.actions = [], [], []
        self.plans, self.volumes, self.volume_snapshots, self.luns = [], {}, {}, {}
        self.inventory, self.agent_outcomes, self.checkpointed = [], {}, set()
        self.lease = None
        self.lease_read = self.index_read = None  # read with the dataset (Catalog.read_for_backup)
        self.listed = None  # the dataset's backups, listed once under the lease (record, then retention)
        # Catalog reads done while ONTAP takes the snapshot (the coordinator is idle then), and node connections
        # opened while the coordinator takes the lease: one background thread each, waited for before run() ends.
        self.background = None
        self.prefetched = self.catalog_reads = None
        self.record_saved = False
        self.checkpoint_hosts = {}  # node -> [vm ids] given to checkpoint_create
        self.checkpoint_window = {}  # node -> [created at, removed at] (monotonic)
        self.snapshots_started = False
        self.taken = []  # SnapshotInfo of this backup
        self.vss_pending = []  # snapshots the VSS provider made that are not renamed yet
        self.vss_before = {}
        self.consistency_groups = ()
        self.replication, self.retention = [], {"deleted": [], "skipped_busy": [], "failed": [], "kept": []}
        self.scripts = {}
        self.snapinfo_snapshot = None

    # -- running steps ------------------------------------------------------------------------------

    def _step(self, name, function, *args):
        started = self.monotonic()
        try:
            result = function(*args)
        except Exception as error:  # pylint: disable=broad-except
            self.timings.append({"step": name, "seconds": round(self.monotonic() - started, 3), "state": "failed"})
            raise StepFailed(name, error) from error
        self.timings.append({"step": name, "seconds": round(self.monotonic() - started, 3), "state": "done"})
        return result

    def run(self, dataset, options, check_mode=False):
        """Back up `dataset` with `options` (backup_plan.BackupOptions); the module's result dict."""
        self.started = self.monotonic()
        self.dataset = dataset
        self.options = options
        self._stamp(self.clock().replace(microsecond=0))
        try:
            self.members = self._step("catalog", self._members)
            self.method = self._step("method", choose_method, options, self.scope.coordinator_facts)
            self.snapshot_names = names_of(self.name, self.method)
            if check_mode or not self._inventory_in_checkpoint():
                self._step("inventory", self._inventory)
                self._step("map", self._map)
                self._step("validate", self._validate)
        except StepFailed as failed:
            raise self._error(failed, undo=None) from None
        if check_mode:
            return self._planned()
        self.background = ThreadPoolExecutor(max_workers=2)
        try:
            return self._run_leased()
        finally:
            self.background.shutdown(wait=True)

    def _run_leased(self):
        try:
            self._step("lease", self._take_lease)
        except StepFailed as failed:
            raise self._error(failed, undo=None) from None
        try:
            for name, function in self._steps():
                self._renew_lease()
                self._step(name, function)
        except StepFailed as failed:
            undo = self._compensate(failed)
            raise self._error(failed, undo) from None
        return self._result()

    def _inventory_in_checkpoint(self):
        """Whether the checkpoint call inventories (checkpoint method): not when a pre-script must first run on
        the member hosts, which only an inventory names; the checkpoint call then inventories again."""
        script = self.options.pre_script
        return self.method == "checkpoint" and not (script is not None and not script.host)

    def _steps(self):
        steps = [("pre_script", self._pre_script)]
        if self.method == "checkpoint":
            steps += [("checkpoint", self._checkpoint), ("map", self._map), ("validate", self._validate), ("snapshot", self._snapshot),
                      ("release_checkpoints", self._release_checkpoints)]
        elif self.method == "vss_provider":
            steps += [("snapshot", self._vss_snapshot)]
        else:
            steps += [("snapshot", self._snapshot)]
        steps += [("record", self._record), ("replication", self._replicate), ("retention", self._retain),
                  ("post_script", self._post_script), ("snapinfo", self._snapinfo), ("release", self._release)]
        return steps

    # -- catalog, inventory, mapping, validation ------------------------------------------------------

    def _warn(self, message):
        if message not in self.warnings:  # map and validate may run twice (pre-script, then checkpoint)
            self.warnings.append(message)

    def _stamp(self, when):
        self.when = when
        self.name = backup_name(self.dataset, when)
        self.checkpoint_name = CHECKPOINT_PREFIX + self.name
        self.snapinfo_name = snapinfo_snapshot_name(self.scope.name, when)

    def _after_the_last_lease(self):
        """Backup names carry the second they start in. A run that starts within the second the scope's lease was last
        taken (a retry right after a fast failure, or a run that waited for the lease) moves to the next second, so
        its name cannot be the previous run's: that run started no later than it took the lease."""
        if self.lease_read is None:
            return
        taken = self.lease_read.record.acquired.replace(microsecond=0)
        if taken >= self.when:
            later = taken + datetime.timedelta(seconds=1)
            self.sleep(max(0.0, (later - self.clock()).total_seconds()))
            self._stamp(later)

    def _members(self):
        found, self.lease_read, self.index_read = self.catalog.read_for_backup(self.dataset, self.scope.name)
        self._after_the_last_lease()
        if found is None:
            raise SmhvError("DATASET_NOT_FOUND", "Dataset %s is not in the SnapInfo catalog of %s. Create it with "
                            "netapp_hyperv.smhv.smhv_dataset first." % (self.dataset, self.scope.name), {"dataset": self.dataset})
        members = [m for m in found.record.members if m.scope.lower() == self.scope.name.lower()]
        others = sorted(set(m.scope for m in found.record.members) - set(m.scope for m in members))
        if others:
            self.warnings.append("Dataset %s also has VMs in %s; this run backs up its VMs in %s only (run the module once per scope)."
                                 % (self.dataset, ", ".join(others), self.scope.name))
        if not members:
            raise SmhvError("INVALID_ARGUMENT", "Dataset %s has no VM in %s." % (self.dataset, self.scope.name),
                            {"dataset": self.dataset, "scope": self.scope.name})
        return members

    def _inventory(self):
        ids = [member.vm_id for member in self.members]
        clients = self.scope.node_clients()
        replies = require_all(call_many(clients, "vm_inventory", {name: {"ids": ids, "require_all": False} for name in clients}))
        seen = {}
        for node, reply in replies.items():
            for vm in reply.result["vms"]:
                vm["scope"] = self.scope.name  # the dataset rules group VMs by scope
                seen.setdefault(vm["id"], (vm, node))
        self._take_inventory(seen)

    def _take_inventory(self, seen):
        missing = [m for m in self.members if m.vm_id not in seen]
        if missing:
            raise SmhvError("VM_NOT_FOUND", "Dataset %s names VM(s) that no host of %s has: %s. Remove them from the dataset, or restore them."
                            % (self.dataset, self.scope.name, ", ".join("%s (%s)" % (m.name, m.vm_id) for m in missing)),
                            {"missing": [m.vm_id for m in missing]})
        self.inventory = [seen[m.vm_id] for m in self.members]

    def _map(self):
        """LUNs and volumes of the inventory's ONTAP disks; only what an earlier map (before a pre-script) did not find."""
        serials = sorted(set(entry["storage"]["disk_serial"] for vm, _node in self.inventory for entry in vm["files"]
                             if entry["storage"]["netapp_lun"] and entry["storage"]["disk_serial"]))
        unknown = [serial for serial in serials if serial not in self.luns]
        if unknown:
            self.luns.update(self.storage.find_luns_by_serials(unknown))
        by_cluster = {}
        for lun in self.luns.values():
            if (lun.cluster, lun.volume_uuid) not in self.volumes:
                by_cluster.setdefault(lun.cluster, set()).add(lun.volume_uuid)
        for cluster, uuids in by_cluster.items():
            for volume in self.storage.get_volumes(cluster, sorted(uuids)):
                self.volumes[(cluster, volume.uuid)] = volume

    def _validate(self):
        vms = [vm for vm, _node in self.inventory]
        # A disk Windows calls NetApp but no configured cluster has: not backed up, so not "on ONTAP".
        for vm in vms:
            for entry in vm["files"]:
                storage = entry["storage"]
                if storage["netapp_lun"] and storage["disk_serial"] not in self.luns:
                    storage["netapp_lun"] = False
        problems = validate_dataset(vms)
        errors = [p for p in problems if p.severity == ERROR]
        for problem in problems:
            if problem.severity != ERROR:
                self._warn(problem.message)
        if errors:
            code = errors[0].code if errors[0].code in ERROR_CODES else "DATASET_INVALID"
            raise SmhvError(code, "Dataset %s cannot be backed up: %s" % (self.dataset, " ".join(p.message for p in errors)),
                            {"problems": [p.as_dict() for p in errors]})
        self.plans = []
        for vm, node in self.inventory:
            plan = classify(vm, node, self.options)
            plan.files = [(entry, self.luns.get(entry["storage"]["disk_serial"])) for entry in vm["files"]]
            self.plans.append(plan)
        if self.agent_outcomes:
            self._check_agent_outcomes()
        refused = [p for p in self.plans if p.outcome == "refused"]
        if refused:
            raise SmhvError("VM_STATE_NOT_ALLOWED", "Backup of dataset %s refused: %s" % (self.dataset, " ".join(p.reason for p in refused)),
                            {"vms": [{"id": p.vm_id, "name": p.vm["name"], "state": p.vm["state"]} for p in refused]})
        unmade = [p for p in self.plans if self.agent_outcomes and p.outcome == "online" and p.vm_id not in self.checkpointed]
        if unmade:
            raise SmhvError("CHECKPOINT_FAILED", "The agent made no production checkpoint of %s." % ", ".join(
                "%s on %s" % (p.vm["name"], p.node) for p in unmade), {"vms": [p.vm_id for p in unmade]})
        for plan in self.plans:
            if plan.outcome == "skipped":
                self._warn(plan.reason)
        if not self.included:
            raise SmhvError("VM_STATE_NOT_ALLOWED", "Dataset %s has no VM that can be backed up now: %s"
                            % (self.dataset, " ".join(p.reason for p in self.plans)), {"vms": [p.vm_id for p in self.plans]})
        self.backup_volumes = self._volumes_of(self.included)
        per_backup = SNAPSHOTS_PER_BACKUP[self.method]
        for volume in self.backup_volumes:
            if volume.is_mirror_destination:
                raise SmhvError("VOLUME_READ_ONLY", "Volume %s on %s holds VMs of dataset %s but is a SnapMirror destination; it cannot be "
                                "snapshotted." % (volume.path, volume.cluster, self.dataset), {"volume": volume.path})
            limit = self.storage.snapshot_limit(volume)
            if volume.snapshot_count + per_backup > limit:
                raise SmhvError("SNAPSHOT_BUDGET_EXCEEDED", "Volume %s on %s has %d snapshots; this backup needs %d more and the limit is %d. "
                                "Delete old snapshots or keep fewer backups." % (volume.path, volume.cluster, volume.snapshot_count,
                                                                                 per_backup, limit),
                                {"volume": volume.path, "snapshot_count": volume.snapshot_count, "limit": limit})

    def _check_agent_outcomes(self):
        """The agents applied the saved-state/off/migration policy to decide what to checkpoint; it must be the
        controller's (backup_plan.classify), or the checkpoints made are not the ones this backup needs."""
        differ = ["%s: agent %s, controller %s" % (p.vm["name"], self.agent_outcomes.get(p.vm_id), p.outcome)
                  for p in self.plans if self.agent_outcomes.get(p.vm_id) != p.outcome]
        if differ:
            raise SmhvError("HOST_PROTOCOL_ERROR", "The agent's backup policy differs from the controller's for %s; the agent on the hosts "
                            "is from another version of the collection." % "; ".join(differ), {"differ": differ})

    @property
    def included(self):
        return [plan for plan in self.plans if plan.outcome != "skipped"]

    def _volumes_of(self, plans):
        keys = []
        for plan in plans:
            for _entry, lun in plan.files:
                if lun is not None and volume_key(lun) not in keys:
                    keys.append(volume_key(lun))
        return [self.volumes[key] for key in keys]

    # -- lease ----------------------------------------------------------------------------------------

    def _take_lease(self):
        if self.method == "checkpoint" and (self.lease_read is None or self.lease_read.record.free_at(self.clock())):
            self._connect_nodes()
        holder = self.holder or default_holder(self.dataset)
        self.lease = self.catalog.acquire_lease(self.scope.name, holder, self.lease_ttl, wait=self.lease_wait, poll=self.lease_poll,
                                                current=self.lease_read)

    def _connect_nodes(self):
        """Open the other nodes' connections while the coordinator writes the lease: the checkpoint call then
        starts without their open (2 WinRM messages each, paid whenever it happens). Only when the lease looks
        free, so a busy scope costs the nodes nothing; a node that cannot be reached now is retried, and
        reported, by the checkpoint call."""
        others = [client for client in self.scope.node_clients().values() if client is not self.scope.coordinator]
        openers = [client.connect for client in others if hasattr(client, "connect")]
        if openers:
            self.background.submit(_all_at_once, openers)

    def _renew_lease(self):
        if self.lease is None:
            return
        left = self.lease.record.expires - self.clock()
        if left < self.lease_ttl / 2:
            try:
                self.lease = self.catalog.renew_lease(self.lease, self.lease_ttl)
            except SmhvError as error:
                self.lease = None  # lost: someone else holds it now, never release theirs
                raise StepFailed("lease", error) from None

    def _release(self):
        lease, self.lease = self.lease, None
        self.catalog.release_lease(lease)

    # -- scripts --------------------------------------------------------------------------------------

    def _script_hosts(self, script):
        nodes = self.scope.node_clients()
        if script.host:
            match = [name for name in nodes if name.lower() == script.host.lower()]
            if not match:
                raise SmhvError("INVALID_ARGUMENT", "Script host %s is not a host of %s (%s)." % (script.host, self.scope.name, ", ".join(nodes)),
                                {"host": script.host})
            return {match[0]: nodes[match[0]]}
        members = set(plan.node.lower() for plan in self.included)
        return {name: client for name, client in nodes.items() if name.lower() in members}

    def _run_script(self, which, script):
        if script is None:
            return
        variables = script_variables(self.name, self.when, self.snapinfo_name)
        args = {"path": script.path, "arguments": script.arguments_for(variables), "environment": variables,
                "timeout_seconds": script.timeout}
        hosts = self._script_hosts(script)
        replies = require_all(call_many(hosts, "run_script", {name: args for name in hosts}))
        self.scripts[which] = [{"host": name, "path": script.path, "exit_code": reply.result["exit_code"], "stdout": reply.result["stdout"],
                                "stderr": reply.result["stderr"]} for name, reply in replies.items()]
        failed = [(name, reply.result) for name, reply in replies.items() if reply.result["exit_code"] != 0]
        if failed:
            raise SmhvError("SCRIPT_FAILED", "The %s %s ended with exit code %s: %s" % (
                which.replace("_", "-"), script.path, ", ".join("%d on %s" % (result["exit_code"], name) for name, result in failed),
                " | ".join((result["stderr"] or result["stdout"]).strip()[-300:] for _host, result in failed)),
                {"script": script.path, "results": self.scripts[which]})

    def _pre_script(self):
        self._run_script("pre_script", self.options.pre_script)

    def _post_script(self):
        self._run_script("post_script", self.options.post_script)

    # -- consistency point ----------------------------------------------------------------------------

    def _checkpoint(self):
        """backup_checkpoint on every node at once: each inventories the dataset's VMs it has, applies the
        saved-state/off/migration policy given, and checkpoints its running ones, all in one call (a node with a
        refused VM checkpoints nothing). The inventory is this backup's; map and validate follow."""
        ids = [member.vm_id for member in self.members]
        clients = self.scope.node_clients()
        # Until a node answers, it may have checkpointed any of them: compensation removes them all by name there.
        self.checkpoint_hosts = {node: list(ids) for node in clients}
        started = self.monotonic()
        self.checkpoint_window = {node: [started, None] for node in clients}
        args = {"ids": ids, "name": self.checkpoint_name, "allow_saved_state": self.options.allow_saved_state}
        outcomes = call_many(clients, "backup_checkpoint", {node: args for node in clients})
        seen, failures = {}, []
        for node, outcome in outcomes.items():
            if isinstance(outcome, SmhvError):
                if outcome.code in NOT_SENT_CODES and not outcome.details.get("may_have_run"):
                    # The request never reached the host (HostClient says may_have_run otherwise): nothing to remove there.
                    del self.checkpoint_hosts[node], self.checkpoint_window[node]
                continue
            result = outcome.result
            for vm in result["vms"]:
                vm["scope"] = self.scope.name  # the dataset rules group VMs by scope
                seen.setdefault(vm["id"], (vm, node))
            self.agent_outcomes.update((decided["vm_id"], decided["outcome"]) for decided in result["outcomes"])
            self.checkpointed.update(checkpoint["vm_id"] for checkpoint in result["checkpoints"])
            failures += [dict(failure, host=node) for failure in result["failures"]]
            made = [checkpoint["vm_id"] for checkpoint in result["checkpoints"]] + [failure["vm_id"] for failure in result["failures"]]
            if made:
                self.checkpoint_hosts[node] = made
            else:
                del self.checkpoint_hosts[node], self.checkpoint_window[node]
        require_all(outcomes)
        if failures:
            raise SmhvError("CHECKPOINT_FAILED", "Production checkpoints failed for %s." % "; ".join(
                "VM %s on %s: %s" % (f["vm_name"] or f["vm_id"], f["host"], f["message"]) for f in failures), {"failures": failures})
        self._take_inventory(seen)
        self._start_prefetch()

    def _release_checkpoints(self):
        if not self.checkpoint_hosts:
            return
        failures = self._remove_checkpoints()
        if failures:
            raise SmhvError("CHECKPOINT_FAILED", "Removing the production checkpoints failed: %s." % "; ".join(failures),
                            {"failures": failures})

    def _remove_checkpoints(self):
        """Remove this backup's checkpoints (by name) wherever they were asked for; the problems, as text."""
        clients = self.scope.node_clients()
        hosts = list(self.checkpoint_hosts)
        args = {node: {"ids": self.checkpoint_hosts[node], "name": self.checkpoint_name} for node in hosts}
        outcomes = call_many({node: clients[node] for node in hosts}, "checkpoint_remove", args)
        ended = self.monotonic()
        problems = []
        for node, outcome in outcomes.items():
            if isinstance(outcome, SmhvError):
                problems.append("%s: %s" % (node, outcome.message))
                continue
            self.checkpoint_window[node][1] = ended
            failures = ["VM %s on %s: %s" % (f["vm_name"] or f["vm_id"], node, f["message"]) for f in outcome.result["failures"]]
            problems += failures
            if not failures:
                self.checkpoint_hosts[node] = []
        self.checkpoint_hosts = {node: ids for node, ids in self.checkpoint_hosts.items() if ids}
        return problems

    def _snapshot(self):
        self._start_prefetch()
        self.snapshots_started = True
        label = self.options.snapvault_label or ""
        taken = self.storage.create_snapshots(self.backup_volumes, self.name, comment=SNAPSHOT_COMMENT % (self.name, self.dataset),
                                              snapmirror_label=label, consistency_group=True)
        self.taken = list(taken.snapshots)
        self.consistency_groups = taken.consistency_groups
        self.warnings.extend(taken.notes)
        for snapshot in self.taken:
            self.volume_snapshots[(snapshot.cluster, snapshot.volume_uuid)] = [snapshot.name]

    def _vss_snapshot(self):
        """The VSS provider makes its snapshot pair per volume under its own names; the new snapshots of each
        volume (compared with before) are renamed <name> and <name>_backup, in the order they were taken."""
        self.vss_before = {(v.cluster, v.uuid): set(s.name for s in self.storage.list_snapshots(v)) for v in self.backup_volumes}
        roots = []
        for plan in self.included:
            for entry, lun in plan.files:
                root = entry["storage"]["access_path"]
                if lun is not None and root and root not in roots:
                    roots.append(root)
        self.snapshots_started = True
        self.scope.coordinator.call("vss_backup", {"ids": [p.vm_id for p in self.included], "volumes": roots, "name": self.name})
        fresh = self._vss_new_snapshots()
        for volume in self.backup_volumes:
            made = fresh[(volume.cluster, volume.uuid)]
            if len(made) != 2:
                raise SmhvError("VSS_BACKUP_FAILED", "The VSS provider left %d new snapshot(s) in volume %s (%s) where it makes 2. Check the "
                                "volume's snapshots and the provider's event log." % (len(made), volume.path,
                                                                                      ", ".join(s.name for s in made) or "none"),
                                {"volume": volume.path})
        label = self.options.snapvault_label or None
        for volume in self.backup_volumes:
            for snapshot, name in zip(fresh[(volume.cluster, volume.uuid)], self.snapshot_names):
                renamed = self.storage.rename_snapshot(snapshot, name, comment=SNAPSHOT_COMMENT % (self.name, self.dataset),
                                                       snapmirror_label=label)
                self.vss_pending.remove(snapshot)
                self.taken.append(renamed)
            self.volume_snapshots[(volume.cluster, volume.uuid)] = list(self.snapshot_names)

    def _vss_new_snapshots(self):
        """{volume key: [snapshots not there before the VSS backup, oldest first]}, remembered for compensation.
        ONTAP's own snapshots (schedules, SnapMirror) are never taken for the provider's."""
        fresh = {}
        self.vss_pending = []
        for volume in self.backup_volumes:
            key = (volume.cluster, volume.uuid)
            made = [s for s in self.storage.list_snapshots(volume) if s.name not in self.vss_before[key]
                    and not s.name.startswith(ONTAP_OWN_PREFIXES) and s.name not in self.snapshot_names]
            fresh[key] = made
            self.vss_pending += made
        return fresh

    # -- after the snapshot ----------------------------------------------------------------------------

    def _record(self):
        record = backup_record(self.name, self.dataset, self.options, self.method, self.when, self.scope.name, self.included,
                               self.volume_snapshots, snapinfo_snapshot=self.snapinfo_name)
        # One listing under the lease serves the name check here and retention's plan after.
        self.listed = self._catalog_reads()["listed"]
        self.catalog.save_backup(record, existing=self.listed[:-1], index=self.index_read)
        self.record_saved = True

    def _replicate(self):
        label = self.options.snapvault_label
        if not (self.options.update_snapmirror or label):
            return
        relationships = self.storage.snapmirror.find(source_path=[v.path for v in self.backup_volumes])
        started = []
        for volume in self.backup_volumes:
            mine = [r for r in relationships if r.source_path == volume.path and (not r.source_cluster or r.source_cluster == volume.cluster)]
            wanted = [(r, "snapvault" if r.policy_type == "vault" else "snapmirror") for r in mine]
            wanted = [(r, kind) for r, kind in wanted if (kind == "snapvault" and label) or (kind == "snapmirror" and self.options.update_snapmirror)]
            if not wanted:
                self.warnings.append("Volume %s has no %s relationship to update." % (
                    volume.path, " or ".join(k for k, asked in (("SnapMirror", self.options.update_snapmirror), ("SnapVault", label)) if asked)))
            for relationship, kind in wanted:
                if relationship.state not in MIRROR_STATES:
                    self.warnings.append("%s relationship %s -> %s is %s, not snapmirrored: not updated." % (
                        kind, relationship.source_path, relationship.destination_path, relationship.state))
                    continue
                snapshot = self.name if kind == "snapvault" else None
                transfer = self.storage.snapmirror.update(relationship, source_snapshot=snapshot, wait=False)
                started.append((relationship, kind, transfer))
        for relationship, kind, transfer in started:
            if transfer.state == "transferring":
                transfer = self.storage.snapmirror.wait_for_transfer(relationship, transfer.transfer_uuid)
            self.replication.append({"kind": kind, "source": relationship.source_path, "destination": relationship.destination_path,
                                     "destination_cluster": relationship.cluster, "state": transfer.state,
                                     "bytes_transferred": transfer.bytes_transferred})

    def _start_prefetch(self):
        if self.prefetched is None and self.background is not None:
            self.prefetched = self.background.submit(self._read_catalog)
            prepare = getattr(self.snapinfo_step, "prepare", None)
            if prepare is not None:
                self.background.submit(_quietly, prepare)

    def _read_catalog(self):
        """Under the lease, while ONTAP works: the dataset's backups (with this one as it will be recorded), the
        retention plan, and the records retention will delete (their snapshot names are in them)."""
        listed = self.catalog.list_backups(dataset=self.dataset)
        own = types.SimpleNamespace(name=self.name, retention_tag=self.options.retention.tag, backup_type=self.options.backup_type,
                                    status="ok")
        file_name = backup_file_name(own)
        listed.append(parse_backup_file_name(self.dataset, file_name, "%s/backups/%s/%s" % (LAYOUT, self.dataset, file_name)))
        retention = self.options.retention
        summaries = [summary for summary in listed if summary.retention_tag == retention.tag]
        candidates = [RetentionCandidate(s.name, s.dataset, s.time, s.retention_tag, s.status) for s in summaries]
        plan = plan_retention(self.dataset, retention, candidates, self.when)
        doomed = [s for s in summaries if s.name in set(plan.delete_names)]
        records = {record.name: record for record in self.catalog.get_backups(doomed)} if doomed else {}
        return {"listed": listed, "plan": plan, "doomed": doomed, "records": records}

    def _catalog_reads(self):
        """What _read_catalog() read in the background; read now if it failed there (the error then belongs to this step)."""
        if self.catalog_reads is None and self.prefetched is not None:
            try:
                self.catalog_reads = self.prefetched.result()
            except Exception:  # pylint: disable=broad-except
                pass
        if self.catalog_reads is None:
            self.catalog_reads = self._read_catalog()
        return self.catalog_reads

    def _retain(self):
        reads = self._catalog_reads()
        plan = reads["plan"]
        self.retention["kept"] = [d.backup.name for d in plan.keep]
        doomed = [s for s in reads["doomed"] if s.name in reads["records"]]  # a record deleted meanwhile is gone already
        if not doomed:
            return
        known = {(v.cluster, v.svm, v.name): v for v in self.volumes.values()}
        deletable = []
        for record, summary in ((reads["records"][s.name], s) for s in doomed):
            snapshots = []
            for volume_ref in sorted(set((f.cluster, f.svm, f.volume, f.snapshots) for vm in record.vms for f in vm.files)):
                cluster, svm, name, names = volume_ref
                volume = known.get((cluster, svm, name))
                if volume is None:
                    try:
                        volume = known[(cluster, svm, name)] = self.storage.get_volume(cluster, svm, name)
                    except SmhvError as error:
                        if error.code != "STORAGE_OBJECT_NOT_FOUND":
                            raise
                        continue  # the volume is gone, and its snapshots with it
                snapshots += [SnapshotInfo(cluster=cluster, svm=svm, volume_name=name, volume_uuid=volume.uuid, name=n) for n in names]
            deletion = self._delete_in_parallel(snapshots)
            if deletion.busy or deletion.failed:
                reasons = ["%s in %s: %s" % (s.name, s.volume_path, e.message) for s, e in deletion.busy + deletion.failed]
                target = "skipped_busy" if deletion.busy else "failed"
                self.retention.setdefault(target, []).append(record.name)
                self.warnings.append("Backup %s is due for deletion but was kept (%s); the next backup retries it." % (
                    record.name, "; ".join(reasons)))
                continue
            deletable.append(summary)
        self.retention["deleted"] = self.catalog.delete_backups(deletable) if deletable else []

    def _delete_in_parallel(self, snapshots):
        """delete_snapshots() per volume, the volumes at the same time (StorageClient is thread-safe): retention's
        cost then grows with the snapshots per volume, not with the number of volumes."""
        by_volume = {}
        for snapshot in snapshots:
            by_volume.setdefault((snapshot.cluster, snapshot.volume_uuid), []).append(snapshot)
        if len(by_volume) < 2:
            return self.storage.delete_snapshots(snapshots)
        with ThreadPoolExecutor(max_workers=min(PARALLEL_VOLUMES, len(by_volume))) as pool:
            parts = list(pool.map(self.storage.delete_snapshots, by_volume.values()))
        return SnapshotDeletion(deleted=tuple(s for part in parts for s in part.deleted), busy=tuple(b for part in parts for b in part.busy),
                                failed=tuple(f for part in parts for f in part.failed))

    def _snapinfo(self):
        self.snapinfo_snapshot = self.snapinfo_step(self.when, self.options.update_snapmirror, False)

    # -- failure --------------------------------------------------------------------------------------

    def _compensate(self, failed):
        """Undo what this backup did so far; what was undone and what could not be."""
        undone, left = [], []
        if self.checkpoint_hosts:
            problems = self._remove_checkpoints()
            if problems:
                left += ["checkpoint %s: %s" % (self.checkpoint_name, problem) for problem in problems]
            else:
                undone.append("removed checkpoint %s" % self.checkpoint_name)
        if self.snapshots_started:
            if self.method == "vss_provider" and not self.taken and not self.vss_pending:
                try:  # the VSS call failed or its answer was lost: find what the provider may have made
                    self._vss_new_snapshots()
                except Exception as problem:  # pylint: disable=broad-except
                    left.append("could not look for the VSS provider's snapshots: %s" % getattr(problem, "message", problem))
            doomed = list(self.taken) + list(self.vss_pending)
            for volume in self.backup_volumes:
                for name in self.snapshot_names:
                    if not any(s.name == name and s.volume_uuid == volume.uuid for s in doomed):
                        doomed.append(SnapshotInfo(cluster=volume.cluster, svm=volume.svm, volume_name=volume.name,
                                                   volume_uuid=volume.uuid, name=name))
            deletion = self.storage.delete_snapshots(doomed)
            gone = sorted(set("%s@%s" % (s.volume_path, s.name) for s in deletion.deleted))
            if gone:
                undone.append("deleted snapshots (or found them absent): %s" % ", ".join(gone))
            left += ["snapshot %s of %s: %s" % (s.name, s.volume_path, e.message) for s, e in deletion.busy + deletion.failed]
        error = failed.error
        message = error.message if isinstance(error, SmhvError) else "%s: %s" % (type(error).__name__, error)
        try:
            if self.record_saved:
                ok = [s for s in self.catalog.list_backups(dataset=self.dataset, since=self.when, until=self.when) if s.name == self.name]
                self.catalog.delete_backups(ok)
                undone.append("withdrew the backup record")
            # A VM the policy refused was not backed up: the failed attempt lists it as skipped, with the reason.
            plans = [dataclasses.replace(plan, outcome="skipped") if plan.outcome == "refused" else plan for plan in self.included]
            record = backup_record(self.name, self.dataset, self.options, self.method, self.when, self.scope.name, plans,
                                   {}, status="failed", failed_step=failed.step, error=message[:2000])
            self.catalog.save_backup(record)
            undone.append("recorded the failed attempt")
        except Exception as problem:  # pylint: disable=broad-except
            left.append("the failed attempt could not be recorded: %s" % getattr(problem, "message", problem))
        if self.lease is not None:
            try:
                self._release()
                undone.append("released the lease of %s" % self.scope.name)
            except Exception as problem:  # pylint: disable=broad-except
                left.append("the lease of %s could not be released (it expires by itself): %s" % (
                    self.scope.name, getattr(problem, "message", problem)))
        return {"undone": undone, "left_behind": left}

    def _error(self, failed, undo):
        error = failed.error
        if isinstance(error, SmhvError):
            code, message, details = error.code, error.message, dict(error.details)
        else:
            code, message, details = "INTERNAL_ERROR", "Unexpected %s: %s. This is a bug in netapp_hyperv.smhv; please report it." % (
                type(error).__name__, error), {}
        what = "Backup %s of dataset %s failed at step %s: %s" % (self.name, self.dataset, failed.step, message)
        if undo is not None:
            what += " Undone: %s." % ("; ".join(undo["undone"]) or "nothing needed undoing")
            if undo["left_behind"]:
                what += " Left behind (clean up by hand): %s." % "; ".join(undo["left_behind"])
        details.update(step=failed.step, backup=self.name, dataset=self.dataset, undo=undo, timings=self._timings(), warnings=self.warnings)
        return SmhvError(code, what, details)

    # -- results --------------------------------------------------------------------------------------

    def _timings(self):
        lifetimes = {}
        for node, (start, end) in self.checkpoint_window.items():
            if end is not None:
                lifetimes[node] = round(end - start, 3)
        total = round(self.monotonic() - self.started, 3)
        return {"total": total, "steps": list(self.timings), "checkpoint_seconds_max": max(lifetimes.values()) if lifetimes else 0.0,
                "checkpoint_seconds_per_host": lifetimes}

    def _vm_results(self):
        lifetimes = self._timings()["checkpoint_seconds_per_host"]
        out = []
        for plan in self.plans:
            volumes = sorted(set("%s:%s" % (lun.cluster, lun.volume_name) for _entry, lun in plan.files if lun is not None))
            checkpointed = plan.outcome == "online" and self.method == "checkpoint"
            out.append({"id": plan.vm_id, "name": plan.vm["name"], "host": plan.node, "state": plan.vm["state"], "outcome": plan.outcome,
                        "reason": plan.reason, "volumes": volumes,
                        "checkpoint_seconds": lifetimes.get(plan.node) if checkpointed else None})
        return out

    def _snapshot_results(self, planned=False):
        out = []
        for volume in self.backup_volumes:
            names = list(self.snapshot_names) if planned else self.volume_snapshots.get((volume.cluster, volume.uuid), [])
            out.append({"cluster": volume.cluster, "svm": volume.svm, "volume": volume.name, "snapshots": names})
        return out

    def _backup_facts(self, status):
        return {"name": self.name, "dataset": self.dataset, "policy": self.options.policy, "type": self.options.backup_type,
                "method": self.method, "time": self.when.isoformat(), "scope": self.scope.name, "status": status,
                "retention_tag": self.options.retention.tag, "snapinfo_snapshot": self.snapinfo_snapshot}

    def _planned(self):
        return {"changed": True, "actions": self._actions(), "backup": self._backup_facts("planned"), "vms": self._vm_results(),
                "snapshots": self._snapshot_results(planned=True), "consistency_groups": [], "replication": [],
                "retention": self.retention, "scripts": {}, "warnings": self.warnings, "timings": self._timings()}

    def _actions(self):
        checkpointed = {}
        for plan in self.included:
            if plan.outcome == "online" and self.method == "checkpoint":
                checkpointed.setdefault(plan.node, []).append(plan.vm["name"])
        actions = ["take the lease of %s" % self.scope.name]
        if self.options.pre_script:
            actions.append("run pre-script %s" % self.options.pre_script.path)
        for node, names in checkpointed.items():
            actions.append("create production checkpoint %s of %s on %s" % (self.checkpoint_name, ", ".join(names), node))
        volumes = ", ".join("%s:%s" % (v.cluster, v.path) for v in self.backup_volumes)
        if self.method == "vss_provider":
            actions.append("VSS backup through the Data ONTAP provider on %s, snapshots renamed %s of %s" % (
                self.scope.coordinator.name, " and ".join(self.snapshot_names), volumes))
        else:
            actions.append("snapshot %s of %s" % (self.name, volumes))
        for node in checkpointed:
            actions.append("remove checkpoint %s on %s" % (self.checkpoint_name, node))
        actions.append("record backup %s in the SnapInfo catalog of %s" % (self.name, self.scope.name))
        if self.options.update_snapmirror:
            actions.append("update the SnapMirror relationships of %s" % volumes)
        if self.options.snapvault_label:
            actions.append("update the SnapVault relationships of %s (label %s)" % (volumes, self.options.snapvault_label))
        actions.append("apply retention %s to dataset %s" % (self.options.retention.describe(), self.dataset))
        if self.options.post_script:
            actions.append("run post-script %s" % self.options.post_script.path)
        actions += ["snapshot SnapInfo as %s" % self.snapinfo_name, "release the lease of %s" % self.scope.name]
        return actions

    def _result(self):
        return {"changed": True, "actions": self._actions(), "backup": self._backup_facts("ok"), "vms": self._vm_results(),
                "snapshots": self._snapshot_results(), "consistency_groups": list(self.consistency_groups),
                "replication": self.replication, "retention": self.retention, "scripts": self.scripts,
                "warnings": self.warnings, "timings": self._timings()}
