# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The consistency point (DESIGN §5 step 3): pre-script, production checkpoints, the snapshots (or the VSS provider's
snapshot pair), the checkpoints removed. Every side effect is journaled before it happens, with the names it may make
(checkpoints on which hosts, snapshot names on which volumes, the temporary consistency group), and after it with what
it made, so that undo.py finds all of it even when an answer was lost."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import script_variables
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import TEMPORARY_CG_PREFIX
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import call_many, require_all

SNAPSHOT_COMMENT = "netapp_hyperv.smhv backup %s of dataset %s"
# Errors of a host call that was never sent, unless they say may_have_run: no connection, TLS or authentication.
NOT_SENT_CODES = ("HOST_UNREACHABLE", "HOST_TLS_ERROR", "HOST_AUTH_FAILED")
# Snapshots ONTAP takes itself (schedules, SnapMirror): never mistaken for the VSS provider's.
ONTAP_OWN_PREFIXES = ("snapmirror.", "hourly.", "daily.", "weekly.", "nightly.", "vserverdr.")


def volume_data(volume):
    return {"cluster": volume.cluster, "svm": volume.svm, "volume": volume.name, "volume_uuid": volume.uuid}


def snapshot_data(snapshot):
    return {"cluster": snapshot.cluster, "svm": snapshot.svm, "volume": snapshot.volume_name, "volume_uuid": snapshot.volume_uuid,
            "name": snapshot.name, "uuid": snapshot.uuid}


def temporary_groups(volumes, name):
    """The temporary consistency groups StorageClient.create_snapshots may create: one per SVM with several volumes."""
    by_svm = {}
    for volume in volumes:
        by_svm.setdefault((volume.cluster, volume.svm), []).append(volume)
    return [{"cluster": cluster, "svm": svm, "name": TEMPORARY_CG_PREFIX + name} for (cluster, svm), members in by_svm.items() if len(members) > 1]


class CaptureSteps:
    """Steps pre_script, checkpoint, snapshot and release_checkpoints of BackupEngine (a mixin)."""

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

    # -- checkpoints ----------------------------------------------------------------------------------

    def _checkpoint(self):
        """backup_checkpoint on every node at once: each inventories the dataset's VMs it has, applies the
        saved-state/off/migration policy given, and checkpoints its running ones, all in one call (a node with a
        refused VM checkpoints nothing). The inventory is this backup's; map and validate follow.

        Journaled before: the checkpoint name and every node asked with every VM id (until a node answers, it may
        have checkpointed any of them; removing a checkpoint a VM does not have, or from a VM a node does not have,
        changes nothing). What the answers narrow that to (the nodes and VMs that may have one) is kept in
        `checkpoint_hosts`, and journaled by a roll-back before it undoes (RollBack._roll_back): on the success path
        that write would buy nothing, as the checkpoints are removed two steps later."""
        ids = [member.vm_id for member in self.members]
        clients = self.scope.node_clients()
        asked = {node: list(ids) for node in clients}
        self.journal.intend("checkpoint", name=self.checkpoint_name, hosts=asked)
        self.checkpoint_hosts = dict(asked)
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
        """Remove this backup's checkpoints (by the name it claimed) wherever they were asked for; the problems, as text."""
        problems, removed = remove_checkpoints(self.scope.node_clients(), self.checkpoint_name, self.checkpoint_hosts)
        ended = self.monotonic()
        for node in removed:
            if node in self.checkpoint_window:
                self.checkpoint_window[node][1] = ended
        self.checkpoint_hosts = {node: ids for node, ids in self.checkpoint_hosts.items() if node not in removed}
        return problems

    # -- snapshots ------------------------------------------------------------------------------------

    def _snapshot(self):
        self._start_prefetch()
        self.journal.intend("snapshot", names=[self.name], volumes=[volume_data(v) for v in self.backup_volumes],
                            consistency_groups=temporary_groups(self.backup_volumes, self.name))
        label = self.options.snapvault_label or ""
        taken = self.storage.create_snapshots(self.backup_volumes, self.name, comment=SNAPSHOT_COMMENT % (self.name, self.dataset),
                                              snapmirror_label=label, consistency_group=True)
        self.taken = list(taken.snapshots)
        self.consistency_groups = taken.consistency_groups
        self.warnings.extend(taken.notes)
        for snapshot in self.taken:
            self.volume_snapshots[(snapshot.cluster, snapshot.volume_uuid)] = [snapshot.name]
        if any(snapshot.uuid for snapshot in self.taken):  # a consistency-group snapshot answers no uuids: the intent says it all
            self.journal.done("snapshot", snapshots=[snapshot_data(s) for s in self.taken])

    def _vss_snapshot(self):
        """The VSS provider makes its snapshot pair per volume under its own names; the new snapshots of each
        volume (compared with before) are renamed <name> and <name>_backup, in the order they were taken.
        Journaled: before, our names on which volumes; after the VSS call (even a failed one), the provider's
        snapshots found, so that an undo deletes them by the names journaled."""
        self.vss_before = {(v.cluster, v.uuid): set(s.name for s in self.storage.list_snapshots(v)) for v in self.backup_volumes}
        roots = []
        for plan in self.included:
            for entry, lun in plan.files:
                root = entry["storage"]["access_path"]
                if lun is not None and root and root not in roots:
                    roots.append(root)
        self.journal.intend("snapshot", names=list(self.snapshot_names), volumes=[volume_data(v) for v in self.backup_volumes],
                            host=self.scope.coordinator.name, vss=True)
        try:
            self.scope.coordinator.call("vss_backup", {"ids": [p.vm_id for p in self.included], "volumes": roots, "name": self.name})
        except SmhvError:
            self._journal_provider_snapshots()  # it may have made them before the error or the lost answer
            raise
        fresh = self._journal_provider_snapshots()
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
                self.taken.append(renamed)
            self.volume_snapshots[(volume.cluster, volume.uuid)] = list(self.snapshot_names)

    def _journal_provider_snapshots(self):
        """{volume key: [snapshots not there before the VSS backup, oldest first]}, journaled as the step's provider
        snapshots. ONTAP's own snapshots (schedules, SnapMirror) are never taken for the provider's."""
        fresh = {}
        for volume in self.backup_volumes:
            key = (volume.cluster, volume.uuid)
            fresh[key] = [s for s in self.storage.list_snapshots(volume) if s.name not in self.vss_before[key]
                          and not s.name.startswith(ONTAP_OWN_PREFIXES) and s.name not in self.snapshot_names]
        found = [snapshot_data(s) for made in fresh.values() for s in made]
        if found:
            self.journal.done("snapshot", provider_snapshots=found)
        return fresh


def remove_checkpoints(clients, name, hosts):
    """checkpoint_remove of checkpoint `name` on `hosts` ({node: [vm ids]}); (problems as text, [nodes done])."""
    nodes = [node for node in hosts if node in clients]
    problems = ["%s: no connection to this host to remove it" % node for node in hosts if node not in clients]
    if not nodes:
        return problems, []
    args = {node: {"ids": hosts[node], "name": name} for node in nodes}
    outcomes = call_many({node: clients[node] for node in nodes}, "checkpoint_remove", args)
    removed = []
    for node, outcome in outcomes.items():
        if isinstance(outcome, SmhvError):
            problems.append("%s: %s" % (node, outcome.message))
            continue
        failures = ["VM %s on %s: %s" % (f["vm_name"] or f["vm_id"], node, f["message"]) for f in outcome.result["failures"]]
        problems += failures
        if not failures:
            removed.append(node)
    return problems, removed
