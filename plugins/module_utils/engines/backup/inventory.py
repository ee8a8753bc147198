# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup's reads (no side effect, nothing journaled): the dataset's members, the storage systems' answer to the
credentials, the members' inventory on every node, their files mapped to ONTAP LUNs and volumes, and the rules checked
(DESIGN §5 steps 1-2)."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import classify, volume_key
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import ERROR_CODES, SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.budget import SNAPSHOTS_PER_BACKUP
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.dataset import ERROR, validate_dataset
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import call_many, require_all

# What a storage system answers that no later step changes: the account is refused, or its certificate is not trusted.
CREDENTIAL_FAILURES = ("STORAGE_AUTH_FAILED", "STORAGE_TLS_ERROR")


class InventorySteps:
    """Steps catalog, credentials, inventory, map and validate of BackupEngine (a mixin: the engine holds the state)."""

    credentials_checked = False

    def _warn(self, message):
        if message not in self.warnings:  # map and validate may run twice (pre-script, then checkpoint)
            self.warnings.append(message)

    def _members(self):
        found, self.lease_read, self.index_read = self.catalog.read_for_backup(self.dataset, self.scope.name)
        self._after_the_last_lease()
        if found is None:
            raise self.catalog.dataset_not_found(self.dataset, "Dataset %s is not in the SnapInfo catalog of %s. Create it with "
                                                 "netapp_hyperv.smhv.smhv_dataset first." % (self.dataset, self.scope.name))
        members = [m for m in found.record.members if m.scope.lower() == self.scope.name.lower()]
        others = sorted(set(m.scope for m in found.record.members) - set(m.scope for m in members))
        if others:
            self.warnings.append("Dataset %s also has VMs in %s; this run backs up its VMs in %s only (run the module once per scope)."
                                 % (self.dataset, ", ".join(others), self.scope.name))
        if not members:
            raise SmhvError("INVALID_ARGUMENT", "Dataset %s has no VM in %s." % (self.dataset, self.scope.name),
                            {"dataset": self.dataset, "scope": self.scope.name})
        return members

    def _check_credentials(self):
        """Before anything is touched, every storage system is asked who it is (GET /api/cluster: the identity each later
        call needs, asked once per client, so no request is added), which ONTAP answers only to an account it accepts. A
        refused account or an untrusted certificate fails the backup; a system that does not answer is left to the
        steps that need it, as before (its site may be down). Step credentials does it when the first ONTAP call would
        otherwise come after the checkpoints (the checkpoint method inventories in its checkpoint call), else the first
        map. The hosts' side is checked by step catalog, the coordinator's first call: every node takes the same account."""
        if self.credentials_checked:
            return
        _answered, errors = self.storage.reachable_clusters()
        refused = [error for error in errors if error.code in CREDENTIAL_FAILURES]
        if refused:
            raise refused[0]
        self.credentials_checked = True

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
        self._check_credentials()
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
        self._check_volumes()

    def _check_volumes(self):
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
