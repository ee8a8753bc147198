# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undoing a backup before its commit point, from its journal only (docs/durability.md §2-3).

Each journaled step has an undo function that deletes what the journal names, by the names this operation claimed
(its backup name is its journal id), never anything else:

    checkpoint   checkpoint_remove of smhv_<backup> on the hosts journaled (with the VM ids)
    snapshot     this backup's snapshot names (and the VSS provider's snapshots found) on the volumes journaled, after
                 one read of the lease (a run that lost it deletes nothing); the temporary consistency group where the
                 storage client can delete one
    record       the record, when it is this operation's and not committed; a record that cannot be read stops the
                 undo there, so that no snapshot of a backup that may be recorded is deleted

The engine rolls back with them when a step before the commit fails (BackupEngine._roll_back); recover_backup() is
registered as the recovery of operation "backup" and settles a journal another run left: closed when its record is
there (committed), else undone. Its `context` is the engine, an UndoContext, or smhv_cleanup's RecoveryContext
(session, storage, catalog), which UndoContext.adapt() completes.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import backup_record
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import fence_failure
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.capture import remove_checkpoints
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.steps import UndoStopped, message_of, undo_log
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import SnapshotInfo


class UndoContext:
    """What undoing a backup's journal needs: the scope's catalog, the storage client, the scope's node clients
    ({name: HostClient}) and the Fence of the lease held now (a deletion on ONTAP reads it first; catalog deletions
    pass it). BackupEngine itself has the same four attributes."""

    def __init__(self, catalog, storage, node_clients, fence):
        self.catalog = catalog
        self.storage = storage
        self.clients = node_clients
        self.lease_fence = fence

    @classmethod
    def adapt(cls, context, journal):
        """`context` when it has what undo needs (the engine), else one built from a context with `session`
        (ScopeSession), `storage` and `catalog` (smhv_cleanup's), fenced by the lease the journal was taken over with."""
        if hasattr(context, "node_clients"):
            return context
        session = context.session
        clients = dict(session.other_nodes())
        clients[session.owner_node or session.owner.name] = session.owner
        return cls(context.catalog, context.storage, clients, journal.fence)

    def node_clients(self):
        return self.clients

    def check_lease(self):
        path = self.lease_fence.path
        found = self.catalog.repository.read([path])[path]
        failure = fence_failure(self.lease_fence, found.text if found is not None else None)
        if failure is not None:
            raise failure

    def fence(self):
        return self.lease_fence


def undo_checkpoint(context, data, _journal):
    hosts = data.get("hosts") or {}
    if not hosts:
        return [], []
    problems, _removed = remove_checkpoints(context.node_clients(), data["name"], hosts)
    if problems:
        return [], ["checkpoint %s: %s" % (data["name"], problem) for problem in problems]
    return ["removed checkpoint %s" % data["name"]], []


def _doomed_snapshots(data):
    """Every snapshot the step names: its names on its volumes, and the snapshots it found it made (with uuids)."""
    doomed = {}
    for volume in data.get("volumes") or ():
        for name in data.get("names") or ():
            doomed[(volume["cluster"], volume["volume_uuid"], name)] = SnapshotInfo(
                cluster=volume["cluster"], svm=volume["svm"], volume_name=volume["volume"], volume_uuid=volume["volume_uuid"], name=name)
    for made in list(data.get("snapshots") or ()) + list(data.get("provider_snapshots") or ()):
        doomed[(made["cluster"], made["volume_uuid"], made["name"])] = SnapshotInfo(
            cluster=made["cluster"], svm=made["svm"], volume_name=made["volume"], volume_uuid=made["volume_uuid"], name=made["name"],
            uuid=made.get("uuid"))
    return list(doomed.values())


def undo_snapshot(context, data, _journal):
    context.check_lease()  # raises LEASE_LOST: a run whose lease was taken over deletes nothing
    deletion = context.storage.delete_snapshots(_doomed_snapshots(data))
    undone, left = [], ["snapshot %s of %s: %s" % (s.name, s.volume_path, e.message) for s, e in deletion.busy + deletion.failed]
    gone = sorted(set("%s@%s" % (s.volume_path, s.name) for s in deletion.deleted))
    if gone:
        undone.append("deleted snapshots (or found them absent): %s" % ", ".join(gone))
    delete_group = getattr(context.storage, "delete_consistency_group", None)
    for group in data.get("consistency_groups") or ():
        if delete_group is None:
            break  # StorageClient deletes its temporary groups itself; smhv_cleanup finds one it could not
        try:
            if delete_group(group["cluster"], group["svm"], group["name"]):
                undone.append("deleted temporary consistency group %s" % group["name"])
        except SmhvError as error:
            left.append("temporary consistency group %s on %s: %s" % (group["name"], group["cluster"], error.message))
    return undone, left


def undo_record(context, data, journal):
    """Withdraw this operation's record when it is there and not committed (a failed attempt stays: it is the history)."""
    try:
        found = context.catalog.get_backup(journal.record.subject, data["name"])
    except SmhvError as error:
        raise UndoStopped("record %s could not be read (%s): whether the backup was recorded is unknown, so its snapshots are kept; "
                          "the next backup of this scope settles it" % (data["name"], error.message), error.code) from None
    if found is None or found.operation != journal.id or found.status != "ok":
        return [], []
    raise UndoStopped("backup %s is recorded, so it is committed and kept; the next backup of this scope closes its journal" % data["name"],
                      "BACKUP_EXISTS")


UNDO = {"checkpoint": undo_checkpoint, "snapshot": undo_snapshot, "record": undo_record}


def recover_backup(journal, context):
    """The recovery of an abandoned backup journal (journal.register_recovery("backup", ...)): a backup whose record is
    there was committed, and its journal is closed; else what it journaled is undone and the journal closed. An undo
    that cannot finish raises, and the journal stays open for the next run."""
    name = journal.id.partition("~")[2]
    context = UndoContext.adapt(context, journal)
    found = context.catalog.get_backup(journal.record.subject, name)
    if found is not None and found.operation == journal.id and found.status == "ok":
        journal.close()
        return {"backup": name, "finished": "backup %s was committed; its journal is closed" % name}
    undone, left, codes = undo_log(journal, UNDO, context)
    if left:
        raise SmhvError(codes[0] if codes else "STORAGE_ERROR", "Backup %s was interrupted and could not be wholly undone: %s."
                        % (name, "; ".join(left)), {"backup": name, "undone": undone, "left_behind": left})
    journal.close()
    return {"backup": name, "undone": undone}


class RollBack:
    """BackupEngine's roll-back before the commit point (a mixin): the journal's undo log, the failed attempt recorded,
    the journal closed (or kept open when the undo could not finish), the lease released."""

    def _roll_back(self, failed):
        undone, left = [], []
        if self.journal is not None:
            self._refresh_journal()
            self._journal_checkpoints_left()
            done, missed, _codes = undo_log(self.journal, UNDO, self)
            undone += done
            left += missed
            self._record_failed_attempt(failed, undone, left)
            self._end_journal(failed, left, undone)
        self._release_after_failure(undone, left)
        return {"undone": undone, "left_behind": left}

    def _refresh_journal(self):
        """The journal as the SnapInfo holds it: a journal write whose answer was lost may have landed (its intent is
        then there, and the version this run holds is stale), or not."""
        try:
            found = self.catalog.get_journal(self.journal.id)
        except Exception:  # pylint: disable=broad-except
            return  # the undo works from what this run wrote; its marks may then fail, and a recovery redoes them
        if found is not None:
            self.journal.versioned = found

    def _journal_checkpoints_left(self):
        """What this run knows of its checkpoints beyond the intent: removed already (step release_checkpoints), or
        on fewer nodes than asked (the checkpoint call's answers), so that the undo asks only where they may be."""
        state = self.journal.state_of("checkpoint")
        if state is None or state == "undone":
            return
        try:
            if self.checkpoints_released:
                self.journal.undone("checkpoint")
            elif self.checkpoint_hosts != self.journal.merged("checkpoint").get("hosts"):
                self.journal.done("checkpoint", hosts=self.checkpoint_hosts)
        except Exception:  # pylint: disable=broad-except
            pass  # the undo then asks every node of the intent, which is only more calls

    def _record_failed_attempt(self, failed, undone, left):
        # A VM the policy refused was not backed up: the failed attempt lists it as skipped, with the reason.
        plans = [dataclasses.replace(plan, outcome="skipped") if plan.outcome == "refused" else plan for plan in self.included]
        record = backup_record(self.name, self.dataset, self.options, self.method, self.when, self.scope.name, plans, {}, status="failed",
                               failed_step=failed.step, error=message_of(failed.error)[:2000], operation=self.journal.id,
                               error_code=failed.error.code if isinstance(failed.error, SmhvError) else "INTERNAL_ERROR")
        try:
            self.catalog.save_backup(record, fence=self.fence())
            undone.append("recorded the failed attempt")
        except Exception as problem:  # pylint: disable=broad-except
            left.append("the failed attempt could not be recorded: %s" % message_of(problem))

    def _end_journal(self, failed, left, undone):
        try:
            if left:
                self.journal.keep_open({"step": failed.step, "code": "UNDO_INCOMPLETE", "message": "; ".join(left)[:2000]})
                left.append("the journal %s stays open: the next backup of %s finishes the undo" % (self.journal.id, self.scope.name))
            else:
                self.journal.close()
                undone.append("closed the journal %s" % self.journal.id)
        except Exception as problem:  # pylint: disable=broad-except
            left.append("the journal %s stays open (the next backup of %s settles it): %s" % (
                self.journal.id, self.scope.name, message_of(problem)))

    def _release_after_failure(self, undone, left):
        if self.keeper is None:
            return
        try:
            if self._release_lease():
                undone.append("released the lease of %s" % self.scope.name)
        except Exception as problem:  # pylint: disable=broad-except
            left.append("the lease of %s could not be released (it expires by itself): %s" % (self.scope.name, message_of(problem)))
