# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps after the commit point (DESIGN §5 step 4): replication, retention, post-script, SnapInfo snapshot,
lease release. The backup exists whatever happens here: a failure is a warning on the result and on the record
({step, code, message}), never a deletion. Retention's deletions are fenced: the record deletions first, fenced by the
lease, then the snapshots on ONTAP, so a run that lost its lease deletes nothing.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.steps import StepFailed, message_of
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import SnapshotDeletion, SnapshotInfo

# Volumes whose expired snapshots retention deletes at the same time.
PARALLEL_VOLUMES = 8
MIRROR_STATES = ("snapmirrored",)


class AfterSteps:
    """Steps replication, retention, post_script, snapinfo and release of BackupEngine (a mixin)."""

    def _after_commit(self):
        for name, function in (("replication", self._replicate), ("retention", self._retain), ("post_script", self._post_script),
                               ("snapinfo", self._snapinfo), ("release", self._release)):
            try:
                self.steps.run(name, function)
            except StepFailed as failed:
                self.warn_after(name, failed.error)
        self._annotate_record()

    def warn_after(self, step, error, text=None):
        """A failure after the commit point: kept on the result (`backup.warnings`, and Ansible's warnings) and the record."""
        code = error.code if isinstance(error, SmhvError) else "INTERNAL_ERROR"
        self.after_failures.append({"step": step, "code": code, "message": message_of(error)[:2000]})
        self.warnings.append(text or "Backup %s is kept; step %s failed after it was committed (%s): %s" % (
            self.name, step, code, message_of(error)))

    def _release(self):
        if not self._release_lease():
            raise SmhvError("LEASE_LOST", "The lease of %s was taken over before the backup ended; it was not released." % self.scope.name,
                            {"scope": self.scope.name})

    def _post_script(self):
        self._run_script("post_script", self.options.post_script)

    def _snapinfo(self):
        self.snapinfo_snapshot = self.snapinfo_step(self.when, self.options.update_snapmirror, False)

    # -- replication ----------------------------------------------------------------------------------

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

    # -- retention ------------------------------------------------------------------------------------

    def _retain(self):
        """Records first, then their snapshots: an ok record never names a snapshot that is gone, even when the run
        stops in between (snapshots without a record are smhv_cleanup's). The record deletion is fenced by the lease,
        so it is also the lease check of the ONTAP deletions that follow. A backup whose snapshot is busy (a mounted
        backup) or cannot be deleted gets its record back, with a warning, and the next backup retries it."""
        reads = self._catalog_reads()
        plan = reads["plan"]
        self.retention["kept"] = [d.backup.name for d in plan.keep]
        doomed = [s for s in reads["doomed"] if s.name in reads["records"]]  # a record deleted meanwhile is gone already
        if not doomed:
            return
        deleted = set(self.catalog.delete_backups(doomed, fence=self.fence()))
        known = {(v.cluster, v.svm, v.name): v for v in self.volumes.values()}
        gone = []
        for record in (reads["records"][s.name] for s in doomed if s.name in deleted):
            deletion = self._delete_in_parallel(self._snapshots_of(record, known))
            if not (deletion.busy or deletion.failed):
                gone.append(record.name)
                continue
            reasons = ["%s in %s: %s" % (s.name, s.volume_path, e.message) for s, e in deletion.busy + deletion.failed]
            self.retention.setdefault("skipped_busy" if deletion.busy else "failed", []).append(record.name)
            self.warnings.append("Backup %s is due for deletion but was kept (%s); the next backup retries it." % (
                record.name, "; ".join(reasons)))
            self._put_back(record, deletion)
        self.retention["deleted"] = gone

    def _put_back(self, record, deletion):
        """The record of a backup retention could not wholly delete, written again (fenced) for the next run to retry.
        A VM with a file whose snapshot did go is no longer in that backup (outcome skipped, with the reason), so the
        record never names a snapshot that is gone; with no VM left, nothing is written back."""
        deleted = set((s.cluster, s.volume_name, s.name) for s in deletion.deleted)
        vms = []
        for vm in record.vms:
            lost = sorted(set("%s:%s" % (f.cluster, f.volume) for f in vm.files for n in f.snapshots if (f.cluster, f.volume, n) in deleted))
            if lost and vm.outcome != "skipped":
                vm = dataclasses.replace(vm, outcome="skipped", reason="Retention deleted this backup's snapshot in %s; the backup was kept "
                                         "for its other volumes, whose snapshots could not be deleted." % ", ".join(lost))
            vms.append(vm)
        if not any(vm.outcome != "skipped" for vm in vms):
            return
        try:
            self.catalog.save_backup(dataclasses.replace(record, vms=tuple(vms)), existing=(), fence=self.fence())
        except Exception as error:  # pylint: disable=broad-except
            self.warnings.append("The record of backup %s could not be written back (%s); smhv_cleanup removes its snapshots (%s)." % (
                record.name, getattr(error, "message", error), ", ".join(sorted(set(s.volume_path for s, _e in deletion.busy + deletion.failed)))))

    def _snapshots_of(self, record, known):
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
        return snapshots

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
