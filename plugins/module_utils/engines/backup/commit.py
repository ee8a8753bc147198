# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step `record`, the commit point (docs/durability.md §3): a backup is committed once every snapshot exists and its
record is written (fenced by the lease) and known to be there. The record's path is journaled first. A write whose
answer was lost, or that failed after the record was written (the dataset's VM index is updated after it), is settled
by reading the record back: present, with this operation's id, is committed, and the index failure is a warning (the
next backup brings the index up to date). Once committed, the journal is closed and nothing deletes the backup.

Also here: the catalog reads retention needs, done in the background while ONTAP takes the snapshot.
"""

from __future__ import annotations

import dataclasses
import types

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import backup_record
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import backup_file_name, parse_backup_file_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import RetentionCandidate, plan_retention


def _quietly(function):
    """Work done ahead of its step: if it fails, the step does it again, and the error is that step's."""
    try:
        function()
    except Exception:  # pylint: disable=broad-except
        pass


def record_path(record):
    return "%s/backups/%s/%s" % (LAYOUT, record.dataset, backup_file_name(record))


class CommitSteps:
    """Step record of BackupEngine (a mixin), the commit, and the record's post-commit warnings."""

    def _record(self):
        record = backup_record(self.name, self.dataset, self.options, self.method, self.when, self.scope.name, self.included,
                               self.volume_snapshots, snapinfo_snapshot=self.snapinfo_name, operation=self.journal.id)
        self.journal.intend("record", name=self.name, path=record_path(record))
        try:
            self.catalog.save_backup(record, existing=self.listed, index=self.index_read, fence=self.fence())
        except Exception as error:  # pylint: disable=broad-except
            if not self._recorded():
                raise
            self.warn_after("vm_index", error, "Backup %s is recorded and kept, but step vm_index failed: the VM index of dataset %s was "
                            "not updated (%s); the next backup of the dataset brings it up to date." % (
                                self.name, self.dataset, getattr(error, "message", error)))
        self.record = record
        self._commit()

    def _recorded(self):
        """Whether this backup's record is there (read back); a read that fails counts as not known to be there."""
        try:
            found = self.catalog.get_backup(self.dataset, self.name)
        except SmhvError:
            return False
        return found is not None and found.operation == self.journal.id and found.status == "ok"

    def _commit(self):
        self.committed = True
        try:
            self.journal.close()
        except Exception as error:  # pylint: disable=broad-except
            self.warn_after("journal", error, "Backup %s is committed, but its journal %s could not be closed (%s); the next backup of "
                            "%s closes it." % (self.name, self.journal.id, getattr(error, "message", error), self.scope.name))

    def _annotate_record(self):
        """Write the post-commit warnings on the record: a compare-and-swap over the record as written, not fenced (the
        lease may be gone by now, and its failure to be released is one of them). A record deleted or changed meanwhile
        is left as it is."""
        if self.record is None or not self.after_failures:
            return
        annotated = dataclasses.replace(self.record, warnings=tuple(self.after_failures))
        try:
            self.catalog.update_backup(self.record, annotated)
            self.record = annotated
        except Exception as error:  # pylint: disable=broad-except
            self.warnings.append("The warnings above could not be written on the record of backup %s: %s" % (
                self.name, getattr(error, "message", error)))

    # -- catalog reads ahead ----------------------------------------------------------------------------

    def _start_prefetch(self):
        if self.prefetched is None and self.background is not None:
            self.prefetched = self.background.submit(self._read_catalog)
            prepare = getattr(self.snapinfo_step, "prepare", None)
            if prepare is not None:
                self.background.submit(_quietly, prepare)

    def _read_catalog(self):
        """Under the lease, while ONTAP works: the retention plan over the dataset's backups as listed when the name was
        claimed (with this one as it will be recorded), and the records retention will delete (their snapshot names)."""
        listed = list(self.listed)
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
        return {"plan": plan, "doomed": doomed, "records": records}

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
