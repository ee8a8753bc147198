# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backup returns: the planned actions (check mode shows the same), the backup's facts, per VM and per volume
what was captured, timings, and the error of a failed run with what was undone."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


class Results:
    """The result dicts of BackupEngine (a mixin)."""

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
                what += " Left behind: %s." % "; ".join(undo["left_behind"])
        details.update(step=failed.step, backup=self.name, dataset=self.dataset, undo=undo, timings=self._timings(), warnings=self.warnings,
                       operation=self.journal.id if self.journal is not None else None)
        return SmhvError(code, what, details)

    def _kept_but_failed(self, result):
        """fail_on_replication_error: the task fails, the backup stays (and the error says so)."""
        failure = next(f for f in self.after_failures if f["step"] == "replication")
        details = {"step": "replication", "backup": self.name, "dataset": self.dataset, "kept": True, "result": result}
        return SmhvError(failure["code"], "Backup %s of dataset %s was taken, recorded and is kept, but its replication failed: %s"
                         % (self.name, self.dataset, failure["message"]), details)

    def _timings(self):
        lifetimes = {}
        for node, (start, end) in self.checkpoint_window.items():
            if end is not None:
                lifetimes[node] = round(end - start, 3)
        total = round(self.monotonic() - self.started, 3)
        return {"total": total, "steps": list(self.steps.timings), "checkpoint_seconds_max": max(lifetimes.values()) if lifetimes else 0.0,
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
                "retention_tag": self.options.retention.tag, "snapinfo_snapshot": self.snapinfo_snapshot,
                "operation": self.journal.id if self.journal is not None else None, "warnings": list(self.after_failures)}

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
        result = {"changed": True, "actions": self._actions(), "backup": self._backup_facts("ok"), "vms": self._vm_results(),
                  "snapshots": self._snapshot_results(), "consistency_groups": list(self.consistency_groups),
                  "replication": self.replication, "retention": self.retention, "scripts": self.scripts,
                  "warnings": self.warnings, "timings": self._timings()}
        if self.recovered:
            result["recovered"] = self.recovered
        return result
