# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup records in the catalog: written once, create-only (save_backup), rewritten in place only after their commit
point (update_backup), read in batches, deleted by retention. Their file names and listings are listing.py's, the
dataset's VM index that save_backup() updates is vm_index.py's.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import backup_file_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BACKUP_TYPES, OUTCOMES, decode, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict, sha256_of
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import FORMAT_PATH, LAYOUT, UNREAD, Versioned
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import backup_name, parse_backup_name, validate_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import RETENTION_TAGS, STATUSES


class BackupsMixin:
    """Catalog operations on backup records (mixed into Catalog over a Store)."""

    def read_for_backup(self, dataset, scope):
        """(dataset, lease, VM index) of a backup about to start, each Versioned or None, in one batched read (with
        format.json when this Catalog has not checked it yet). The lease and the index are starting points for
        acquire_lease(current=) and save_backup(index=): both are compare-and-swap writes, so a version that
        changed since is only re-read."""
        paths = [self._dataset_path(validate_name("dataset", dataset)), self._lease_path(scope), self._index_path(dataset)]
        checked = self._format_checked
        found = self.repository.read(([] if checked else [FORMAT_PATH]) + paths)
        if not checked:
            self._check_format(found[FORMAT_PATH])
        kinds = ("dataset", "lease", "vm_index")
        return tuple(None if found[path] is None else Versioned(decode(found[path].text, path, kind), found[path].sha256)
                     for path, kind in zip(paths, kinds))

    def save_backup(self, record, existing=None, index=UNREAD, fence=None):
        """Write a new backup record (never overwrites one) and add its VMs to the dataset's VM index.

        `existing`: the dataset's BackupSummary list just taken (list_backups), which saves the listing that
        checks the name is free; `index`: the dataset's VM index as read (Versioned or None), saving its read.
        Given both, `existing` must have been listed after `index` was read (as smhv_backup does): the index update
        takes the backups a returning VM missed from it. Without `index`, the update reads the index and lists the
        dataset itself. `fence`: the backup's lease (lease_fence()): a run that lost it writes nothing.
        """
        self._ready()
        expected = backup_name(record.dataset, record.time)
        if record.name != expected:
            raise ValueError("backup %r of dataset %s at %s should be named %r" % (record.name, record.dataset, record.time, expected))
        if record.status not in STATUSES or record.retention_tag not in RETENTION_TAGS or record.backup_type not in BACKUP_TYPES:
            raise ValueError("backup %r: bad status, retention tag or type" % (record.name,))
        bad_outcomes = sorted(set(vm.outcome for vm in record.vms) - set(OUTCOMES))
        if bad_outcomes:
            raise ValueError("backup %r: unknown VM outcomes %s" % (record.name, bad_outcomes))
        path = "%s/backups/%s/%s" % (LAYOUT, record.dataset, backup_file_name(record))
        # create_only catches the same file name; another tag, type or status would make another name.
        if existing is not None:
            taken = [summary for summary in existing if summary.name == record.name]
        else:
            taken = self._backups_named(record.dataset, record.name)
        if taken:
            raise SmhvError("BACKUP_EXISTS", "Backup %s already exists; backups of one dataset need distinct seconds." % record.name,
                            {"backup": record.name})
        try:
            written = self._write(path, record, create_only=True, fence=fence)
        except WriteConflict:
            raise SmhvError("BACKUP_EXISTS", "Backup %s already exists; backups of one dataset need distinct seconds." % record.name,
                            {"backup": record.name}) from None
        self._index_backup(record, index, existing if index is not UNREAD else None)
        return written

    def get_backups(self, summaries):
        """The BackupRecords behind `summaries` (batched reads; a record deleted meanwhile is left out)."""
        return self._read_many([summary.path for summary in summaries], "backup")

    def get_backup(self, dataset, name):
        parsed = parse_backup_name(name)
        if parsed is None:
            raise SmhvError("INVALID_ARGUMENT", "%r is not a backup name (<dataset>_<MM-DD-YYYY_HH.MM.SS>)." % name, {"backup": name})
        self._ready()
        records = self.get_backups(self._backups_named(validate_name("dataset", dataset), name))
        return records[0] if records else None

    def update_backup(self, record, new, fence=None):
        """Rewrite a backup record in place (its status, tag and type, which its file name carries, unchanged): `record`
        is the version this operation wrote or read, `new` the record to write over it (compare-and-swap, fenced).
        After the commit point this is how later steps' warnings reach the record."""
        self._ready()
        if backup_file_name(new) != backup_file_name(record) or new.dataset != record.dataset:
            raise ValueError("update_backup keeps a record's file name: %s" % record.name)
        path = "%s/backups/%s/%s" % (LAYOUT, record.dataset, backup_file_name(record))
        return self._write(path, new, expected_sha256=sha256_of(encode(record)), fence=fence)

    def delete_backups(self, summaries, fence=None):
        """Delete backup records (the caller has deleted their snapshots); returns the names deleted."""
        self._ready()
        deleted = set(self._delete([summary.path for summary in summaries], fence=fence))
        return [summary.name for summary in summaries if summary.path in deleted]
