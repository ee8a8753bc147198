# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listing backups from their file names: backups/<dataset>/<backup name>~<retention tag>~<type>~<status>.json.

A backup's file name carries what listings filter on: its dataset (the directory), its name (and so its time),
retention tag, type and status (the policy is in the record: retention works per dataset and tag, and a longer name
would not fit MAX_PATH). list_backups() answers those filters from one directory listing without reading a record, and
retention can be planned from the same listing. A VM filter adds one batched read of the datasets' VM indexes
(vm_index.py): an exact index says of every backup it covers whether it includes the VM, so only the backups newer
than it covers (a writer that died before indexing them) are read; an index from before `exact` existed makes it read
the records in the VM's span, until the next backup of the dataset rewrites the index exact from the records (once)
or rebuild_vm_index() does.
"""

from __future__ import annotations

import datetime
import operator
import typing

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BACKUP_TYPES, decode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT, SEPARATOR
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.vm_index import VmView
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import STAMP_LENGTH, format_stamp, parse_stamp, validate_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import RETENTION_TAGS, STATUSES


class BackupSummary(typing.NamedTuple):
    """What a backup's file name says, without reading the record (a tuple: listings make thousands)."""

    name: str
    dataset: str
    time: datetime.datetime
    retention_tag: str
    backup_type: str
    status: str
    path: str


# The fields of a stamp MM-DD-YYYY_HH.MM.SS, most significant first, as slices.
_STAMP_FIELDS = ((6, 10), (0, 2), (3, 5), (11, 13), (14, 16), (17, 19))


def span_wildcard(since, until):
    """A file-name wildcard ('*', '?') that fits every backup file stamped in [since, until], or None when it would fit all.

    The stamp's fields from the most significant: equal fields are kept, of the first field that differs its common
    leading digits (every value between the two ends shares them), the rest is '?'. One week in one month is
    `*_01-2?-2026*`: the host lists about a third of a month instead of every backup.
    """
    if since is None or until is None or since > until:
        return None
    low, high = format_stamp(since), format_stamp(until)
    pattern = list("??-??-????_??.??.??")
    for start, end in _STAMP_FIELDS:
        same = 0
        while start + same < end and low[start + same] == high[start + same]:
            same += 1
        pattern[start:start + same] = low[start:start + same]
        if start + same < end:
            break
    if pattern[6] == "?":
        return None  # not even the millennium in common
    # Free fields at the end become one '*': fewer '?' before a '.', which Windows matches with DOS semantics.
    return "*_" + "".join(pattern).rstrip("?.-_") + "*"


def backup_file_name(record):
    return SEPARATOR.join((record.name, record.retention_tag, record.backup_type, record.status)) + ".json"


def parse_backup_file_name(dataset, file_name, path):
    """The BackupSummary a file name in backups/<dataset>/ encodes, or None for anything else (a temp file, a stray)."""
    if not file_name.endswith(".json"):
        return None
    parts = file_name[:-len(".json")].split(SEPARATOR)
    if len(parts) != 4:
        return None
    name, tag, backup_type, status = parts
    # <dataset>_<stamp>: the dataset is the directory's, so slicing replaces a regex (listings parse 100,000 names: the
    # exact prefix is compared before its casefold, and each length is taken once).
    size = len(dataset)
    if len(name) != size + 1 + STAMP_LENGTH or name[size] != "_" or tag not in RETENTION_TAGS or backup_type not in BACKUP_TYPES \
            or status not in STATUSES:
        return None
    prefix = name[:size]
    if prefix != dataset and prefix.casefold() != dataset.casefold():
        return None
    when = parse_stamp(name[size + 1:])
    if when is None:
        return None
    return BackupSummary(name, prefix, when, tag, backup_type, status, path)


class ListingMixin:
    """Catalog listings of backup records (mixed into Catalog over a Store)."""

    def _backups_named(self, dataset, name):
        entries = self.repository.list("%s/backups/%s" % (LAYOUT, dataset), prefix=name + SEPARATOR)
        summaries = (parse_backup_file_name(dataset, entry.name, entry.path) for entry in entries if not entry.is_directory)
        return [summary for summary in summaries if summary is not None and summary.name == name]

    def list_backups(self, dataset=None, since=None, until=None, backup_type=None, status=None, retention_tag=None, vm_id=None):
        """BackupSummary of matching backups, oldest first (then by name); `since`/`until` are inclusive aware times.

        Without `vm_id` this is one directory listing (of the dataset, or of all backups) and no record is read;
        with both `since` and `until` the listing asks only for names stamped in a span around them (span_wildcard).
        """
        self._ready()
        # A time span narrows the listing on the host already: the names outside it are never sent.
        match = span_wildcard(since, until)
        if dataset is not None:
            validate_name("dataset", dataset)
            entries = self.repository.list("%s/backups/%s" % (LAYOUT, dataset), match=match)
        else:
            entries = self.repository.list("%s/backups" % LAYOUT, recurse=True, match=match)
        summaries = []
        for entry in entries:
            if entry.is_directory:
                continue
            directory = entry.path.rsplit("/", 2)[-2]
            summary = parse_backup_file_name(directory, entry.name, entry.path)
            if summary is None or (since is not None and summary.time < since) or (until is not None and summary.time > until) \
                    or (backup_type is not None and summary.backup_type != backup_type) or (status is not None and summary.status != status) \
                    or (retention_tag is not None and summary.retention_tag != retention_tag):
                continue
            summaries.append(summary)
        summaries.sort(key=operator.attrgetter("time", "dataset", "name"))  # C, not a lambda: 100,000 keys (issue 20)
        if vm_id is not None:
            summaries = self._with_vm(summaries, vm_id)
        return summaries

    def _with_vm(self, summaries, vm_id):
        """The summaries whose records include `vm_id`, reading as few records as the VM indexes allow: with an exact
        index, only the backups newer than it covers; with an older one, those and the records in the VM's span."""
        datasets = sorted(set(summary.dataset for summary in summaries))
        paths = {name: self._index_path(name) for name in datasets}
        found = self.repository.read(list(paths.values()))  # one call for every dataset's index
        indexes = {name: decode(found[path].text, path, "vm_index") for name, path in paths.items() if found[path] is not None}
        views = {name: VmView(index, vm_id) for name, index in indexes.items()}
        known, candidates = set(), []
        for summary in summaries:
            view = views.get(summary.dataset)
            answer = view.holds(summary.time) if view is not None else None
            if answer is None:
                candidates.append(summary)
            elif answer:
                known.add(summary.path)
        read = set(record.name for record in self.get_backups(candidates) if record.includes(vm_id)) if candidates else set()
        known.update(summary.path for summary in candidates if summary.name in read)
        return [summary for summary in summaries if summary.path in known]
