# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SnapInfo repository of one scope (DESIGN §4): datasets, policies, backups, journals, leases.

Layout under the scope's SnapInfo path (`smhv/format.json` names the layout, so a future layout can
live beside this one):

    smhv/format.json
    smhv/v1/scope.json
    smhv/v1/datasets/<dataset>.json
    smhv/v1/policies/<dataset>/<policy>.json
    smhv/v1/backups/<dataset>/<backup name>~<retention tag>~<type>~<status>.json
    smhv/v1/index/<dataset>.json            which VMs the dataset's backups hold, and which backups of a VM's span lack it
    smhv/v1/journals/<operation>~<key>.json  an open operation's journal (deleted when it ends; journal.py)
    smhv/v1/leases/<scope>.json             the scope's fenced lease; leases/vm~<id>.json one VM's

Concurrency. Independent records never share a file, so two writers only meet on a file that is
meant to be shared: a dataset definition, a VM index, a lease. Those are written with
compare-and-swap on the content hash (update_dataset() re-reads and retries on a conflict); new
records are written create-only, so two backups can never overwrite each other.

Listings. A backup's file name carries what listings filter on: its dataset (the directory), its
name (and so its time), retention tag, type and status (the policy is in the record: retention
works per dataset and tag, and a longer name would not fit MAX_PATH). list_backups() answers those
filters from one directory listing without reading a record, and retention can be planned from
the same listing. A VM filter adds one batched read of the datasets' VM indexes: an exact index
(VmIndex.exact) says of every backup it covers whether it includes the VM, so only the backups newer
than it covers (a writer that died before indexing them) are read; an index from before `exact`
existed makes it read the records in the VM's span, until the next backup of the dataset rewrites
the index exact from the records (once) or rebuild_vm_index() does.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import os
import random
import re
import socket
import time
import typing
import uuid

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import (
    BACKUP_TYPES, METHODS, OUTCOMES, CatalogFormat, Lease, VmIndex, decode, encode)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import Fence, WriteConflict, fence_failure, sha256_of
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import (
    NAME_MAX_LENGTH, STAMP_LENGTH, backup_name, format_stamp, parse_backup_name, parse_stamp, validate_name)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import RETENTION_TAGS, STATUSES

FORMAT_PATH = "smhv/format.json"
LAYOUT = "smhv/v1"
SEPARATOR = "~"  # not allowed in dataset, policy or backup names, so a file name splits unambiguously
# The longest path the catalog writes below the SnapInfo path: a backup record of a longest-named
# dataset, as the agent's temporary file ".<name>.<32 hex>.tmp" beside it. It must fit MAX_PATH.
MAX_PATH = 259
_LONGEST_TAIL = len("\\%s\\backups\\" % LAYOUT) + NAME_MAX_LENGTH + 1 + len(".") + NAME_MAX_LENGTH + 1 + STAMP_LENGTH \
    + len("~unlimited~application~failed.json") + len(".") + 32 + len(".tmp")
# "Not read yet", for arguments that take a version read beforehand (None means the file is absent).
_UNREAD = object()
# How many times a compare-and-swap update is tried, and the first pause (seconds) after losing one.
CAS_ATTEMPTS = 8
CAS_BACKOFF = 0.02


_JOURNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,200}$")


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@dataclasses.dataclass(frozen=True)
class Versioned:
    """A record and the hash of the file it was read from (or written as): the `expected_sha256` of the next write."""

    record: object
    sha256: str


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
    # <dataset>_<stamp>: the dataset is the directory's, so slicing replaces a regex (listings parse thousands of names).
    if len(name) != len(dataset) + 1 + STAMP_LENGTH or name[len(dataset)] != "_" or name[:len(dataset)].casefold() != dataset.casefold() \
            or tag not in RETENTION_TAGS or backup_type not in BACKUP_TYPES or status not in STATUSES:
        return None
    when = parse_stamp(name[-STAMP_LENGTH:])
    if when is None:
        return None
    return BackupSummary(name, name[:len(dataset)], when, tag, backup_type, status, path)


_SECOND = datetime.timedelta(seconds=1)


def _stamp_time(name):
    """The time a backup name says (to the second, UTC): what listings compare, whatever the record's microseconds."""
    return parse_stamp(name[-STAMP_LENGTH:])


def _between(times, low, high):
    """(first, last) of the sorted `times` strictly between `low` and `high`, or None when there is none."""
    start, end = bisect.bisect_right(times, low), bisect.bisect_left(times, high)
    return (times[start], times[end - 1]) if start < end else None


class _ExactVms:
    """An exact VmIndex being updated: spans {vm_id: [name, first, last]} and absent {vm_id: [[from, to], ...]} as datetimes.

    fold() adds one backup, in any order and idempotently; every backup of the dataset must be folded in (or
    be newer than `covered`) for the gaps it computes to be right, which _indexed() sees to.
    """

    def __init__(self, dataset, index=None):
        self.dataset = dataset
        self.covered = None
        self.spans, self.absent = {}, {}
        if index is not None:
            self.covered = index.covered_until
            self.spans = {vm_id: [span["name"], datetime.datetime.fromisoformat(span["first"]), datetime.datetime.fromisoformat(span["last"])]
                          for vm_id, span in index.vms.items()}
            self.absent = {vm_id: [[datetime.datetime.fromisoformat(low), datetime.datetime.fromisoformat(high)] for low, high in ranges]
                           for vm_id, ranges in index.absent.items()}

    def _add(self, vm_id, low, high):
        merged, kept = [low, high], []
        for start, end in self.absent.get(vm_id, ()):
            if end + _SECOND < merged[0] or start - _SECOND > merged[1]:
                kept.append([start, end])
            else:
                merged = [min(start, merged[0]), max(end, merged[1])]
        self.absent[vm_id] = sorted(kept + [merged])

    def _remove(self, vm_id, when):
        ranges = []
        for start, end in self.absent.get(vm_id, ()):
            if start <= when <= end:
                ranges += ([[start, when - _SECOND]] if start < when else []) + ([[when + _SECOND, end]] if when < end else [])
            else:
                ranges.append([start, end])
        if ranges:
            self.absent[vm_id] = ranges
        else:
            self.absent.pop(vm_id, None)

    def fold(self, record, times):
        """Add `record`; `times`: the sorted times of the dataset's listed backups, to tell whether a VM's gap held any."""
        when = _stamp_time(record.name)
        included = {vm.vm_id: vm.name for vm in record.vms if vm.outcome != "skipped"}  # BackupRecord.includes()
        for vm_id, name in included.items():
            span = self.spans.get(vm_id)
            if span is None:
                self.spans[vm_id] = [name, when, when]
            elif when > span[2]:
                gap = _between(times, span[2], when)
                if gap:  # back after an absence: the backups in between lacked it
                    self._add(vm_id, *gap)
                span[0], span[2] = name, when
            elif when < span[1]:
                gap = _between(times, when, span[1])
                if gap:
                    self._add(vm_id, *gap)
                span[1] = when
            else:
                self._remove(vm_id, when)
                if when == span[2]:
                    span[0] = name
        for vm_id, span in self.spans.items():
            if vm_id not in included and span[1] <= when <= span[2]:
                self._add(vm_id, when, when)
        self.covered = when if self.covered is None else max(self.covered, when)

    def prune(self, oldest):
        """Forget absences that end before the oldest backup listed: retention deleted every backup they described."""
        for vm_id in list(self.absent):
            self.absent[vm_id] = [pair for pair in self.absent[vm_id] if pair[1] >= oldest]
            if not self.absent[vm_id]:
                del self.absent[vm_id]

    def record(self):
        vms = {vm_id: {"name": name, "first": first.isoformat(), "last": last.isoformat()} for vm_id, (name, first, last) in self.spans.items()}
        absent = {vm_id: [[low.isoformat(), high.isoformat()] for low, high in ranges] for vm_id, ranges in self.absent.items()}
        return VmIndex(self.dataset, self.covered, vms, exact=True, absent=absent)


class _VmView:
    """One VM in one dataset's VmIndex, for a listing: holds(time) says whether the backup at `time` includes the VM
    (True, False) or that only its record can tell (None)."""

    def __init__(self, index, vm_id):
        self.covered = index.covered_until
        self.exact = index.exact
        span = index.vms.get(vm_id)
        self.span = None if span is None else (datetime.datetime.fromisoformat(span["first"]), datetime.datetime.fromisoformat(span["last"]))
        ranges = sorted((datetime.datetime.fromisoformat(low), datetime.datetime.fromisoformat(high))
                        for low, high in index.absent.get(vm_id, ())) if self.exact else []
        self.starts = [low for low, _high in ranges]
        self.ends = [high for _low, high in ranges]

    def holds(self, when):
        if self.covered is None or when > self.covered:
            return None  # not indexed yet
        if self.span is None or not self.span[0] <= when <= self.span[1]:
            return False
        if not self.exact:
            return None
        position = bisect.bisect_right(self.starts, when) - 1
        return position < 0 or when > self.ends[position]


class Catalog:
    """The records of one scope's SnapInfo repository, over any Repository.

    `clock` returns the current aware UTC time and `sleep` waits, both replaceable for tests.
    """

    def __init__(self, repository, clock=_utcnow, sleep=time.sleep):
        self.repository = repository
        self.clock = clock
        self.sleep = sleep
        self._format_checked = False

    # -- files ---------------------------------------------------------------------------------

    def _read(self, path, kind):
        found = self.repository.read([path])[path]
        if found is None:
            return None
        return Versioned(decode(found.text, path, kind), found.sha256)

    def _read_many(self, paths, kind):
        found = self.repository.read(paths)
        return [decode(found[path].text, path, kind) for path in paths if found[path] is not None]

    def _write(self, path, record, expected_sha256=None, create_only=False, fence=None):
        """Write a record; an answer lost after the host may have written (details.may_have_run) is settled by reading
        the file back: our content there means the write happened. Every record this catalog writes that a lost answer
        could leave ambiguous carries something unique (a token, an operation id, a time), so the content is ours."""
        text = encode(record)
        try:
            return Versioned(record, self.repository.write(path, text, expected_sha256=expected_sha256, create_only=create_only, fence=fence))
        except SmhvError as error:
            if not error.details.get("may_have_run"):
                raise
            found = self.repository.read([path])[path]
            if found is None or found.sha256 != sha256_of(text):
                raise
            return Versioned(record, found.sha256)

    def _delete(self, paths, fence=None):
        """Delete files; a lost answer is settled by deleting again (absent files are no error)."""
        try:
            return self.repository.delete(paths, fence=fence)
        except SmhvError as error:
            if not error.details.get("may_have_run"):
                raise
            return self.repository.delete(paths, fence=fence)

    def _back_off(self, attempt):
        """Pause after a lost compare-and-swap, randomly, so two writers in lockstep stop colliding."""
        self.sleep(random.uniform(0, CAS_BACKOFF * 2 ** attempt))

    def _ready(self):
        """Check format.json once per Catalog: a missing or newer catalog must not be written to."""
        if self._format_checked:
            return
        self._check_format(self.repository.read([FORMAT_PATH])[FORMAT_PATH])

    def _check_format(self, stored):
        found = None if stored is None else Versioned(decode(stored.text, FORMAT_PATH, "format"), stored.sha256)
        if found is None:
            raise SmhvError("SCOPE_NOT_REGISTERED", "The SnapInfo directory has no catalog (%s is missing). Register the host or cluster "
                            "with netapp_hyperv.smhv.smhv_host first." % FORMAT_PATH, {"path": FORMAT_PATH})
        if found.record.layout != LAYOUT:
            raise SmhvError("CATALOG_VERSION_UNSUPPORTED", "The catalog uses layout %s; this collection knows %s. Upgrade "
                            "netapp_hyperv.smhv on this controller." % (found.record.layout, LAYOUT), {"layout": found.record.layout})
        self._format_checked = True

    # -- format and scope ----------------------------------------------------------------------

    def initialize(self, scope):
        """Create the catalog (format.json, scope.json) or update the scope record of an existing one; return the Scope."""
        longest = MAX_PATH - _LONGEST_TAIL
        if len(scope.snapinfo_path.rstrip("\\/")) > longest:
            raise SmhvError("INVALID_ARGUMENT", "SnapInfo path %s has %d characters; backup records under it could exceed Windows' "
                            "260-character path limit. Use a SnapInfo path of at most %d characters."
                            % (scope.snapinfo_path, len(scope.snapinfo_path), longest), {"snapinfo_path": scope.snapinfo_path})
        try:
            self._write(FORMAT_PATH, CatalogFormat(LAYOUT, self.clock()), create_only=True)
        except WriteConflict:
            pass  # already a catalog: _ready() checks that its layout is ours
        self._format_checked = False
        self._ready()
        current = self._read(LAYOUT + "/scope.json", "scope")
        if current is not None:
            scope = dataclasses.replace(scope, created=current.record.created)
        elif scope.created is None:
            scope = dataclasses.replace(scope, created=self.clock())
        self._write(LAYOUT + "/scope.json", scope)
        return scope

    def scope(self):
        self._ready()
        found = self._read(LAYOUT + "/scope.json", "scope")
        return None if found is None else found.record

    # -- datasets --------------------------------------------------------------------------------

    @staticmethod
    def _dataset_path(name):
        return "%s/datasets/%s.json" % (LAYOUT, name)

    def get_dataset(self, name):
        """Versioned(Dataset) or None."""
        self._ready()
        return self._read(self._dataset_path(validate_name("dataset", name)), "dataset")

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

    def list_datasets(self):
        self._ready()
        return sorted(entry.name[:-len(".json")] for entry in self.repository.list(LAYOUT + "/datasets")
                      if not entry.is_directory and entry.name.endswith(".json"))

    def get_datasets(self):
        """Every dataset record of the scope: one listing and one batched read, whatever their number."""
        self._ready()
        entries = [entry.path for entry in self.repository.list(LAYOUT + "/datasets")
                   if not entry.is_directory and entry.name.endswith(".json")]
        return sorted(self._read_many(entries, "dataset"), key=lambda dataset: dataset.name.casefold())

    def put_dataset(self, dataset, expected_sha256=None):
        """Create `dataset` (expected_sha256 None: fails if it exists, whatever the case of its name) or replace that version of it."""
        self._ready()
        path = self._dataset_path(validate_name("dataset", dataset.name))
        now = self.clock()
        dataset = dataclasses.replace(dataset, created=dataset.created or now, updated=now)
        try:
            return self._write(path, dataset, expected_sha256=expected_sha256, create_only=expected_sha256 is None)
        except WriteConflict as conflict:
            if expected_sha256 is None:
                raise SmhvError("DATASET_EXISTS", "Dataset %s already exists (names are compared without case on the SnapInfo LUN)."
                                % dataset.name, {"dataset": dataset.name}) from None
            raise conflict

    def update_dataset(self, name, change):
        """Apply `change(Dataset) -> Dataset` with compare-and-swap, re-reading and retrying when another writer got there first."""
        for attempt in range(CAS_ATTEMPTS):
            current = self.get_dataset(name)
            if current is None:
                raise SmhvError("DATASET_NOT_FOUND", "Dataset %s does not exist in this scope's catalog." % name, {"dataset": name})
            changed = change(current.record)
            if changed == current.record:
                return current
            try:
                return self.put_dataset(changed, expected_sha256=current.sha256)
            except WriteConflict:
                self._back_off(attempt)
        raise SmhvError("CATALOG_CONFLICT", "Dataset %s kept changing underneath (%d attempts); another controller is updating it. Try "
                        "again." % (name, CAS_ATTEMPTS), {"dataset": name})

    def delete_dataset(self, name):
        """Delete the dataset definition and its policies; its backups stay (they still restore)."""
        self._ready()
        validate_name("dataset", name)
        policies = [entry.path for entry in self.repository.list("%s/policies/%s" % (LAYOUT, name)) if not entry.is_directory]
        return bool(self.repository.delete(policies + [self._dataset_path(name)]))

    # -- policies --------------------------------------------------------------------------------

    @staticmethod
    def _policy_path(dataset, name):
        return "%s/policies/%s/%s.json" % (LAYOUT, validate_name("dataset", dataset), validate_name("policy", name))

    def get_policy(self, dataset, name):
        self._ready()
        return self._read(self._policy_path(dataset, name), "policy")

    def list_policies(self, dataset):
        self._ready()
        entries = self.repository.list("%s/policies/%s" % (LAYOUT, validate_name("dataset", dataset)))
        return self._read_many([entry.path for entry in entries if not entry.is_directory and entry.name.endswith(".json")], "policy")

    def all_policies(self):
        """Every policy of every dataset of the scope: one recursive listing and one batched read."""
        self._ready()
        entries = [entry.path for entry in self.repository.list(LAYOUT + "/policies", recurse=True)
                   if not entry.is_directory and entry.name.endswith(".json")]
        return sorted(self._read_many(entries, "policy"), key=lambda policy: (policy.dataset.casefold(), policy.name.casefold()))

    def put_policy(self, policy, expected_sha256=None):
        """Create (expected_sha256 None) or replace a policy after checking its retention, schedule, type and method."""
        self._ready()
        path = self._policy_path(policy.dataset, policy.name)
        policy.retention()
        policy.parsed_schedule()
        if policy.backup_type not in BACKUP_TYPES or policy.method not in METHODS or \
                (policy.backup_type == "crash") != (policy.method == "crash"):
            raise SmhvError("INVALID_ARGUMENT", "Policy %s: backup_type %r with method %r; application backups use method checkpoint or "
                            "vss_provider, crash backups method crash." % (policy.name, policy.backup_type, policy.method),
                            {"policy": policy.name})
        if self.get_dataset(policy.dataset) is None:
            raise SmhvError("DATASET_NOT_FOUND", "Policy %s belongs to dataset %s, which does not exist in this scope's catalog."
                            % (policy.name, policy.dataset), {"dataset": policy.dataset})
        policy = dataclasses.replace(policy, created=policy.created or self.clock())
        try:
            return self._write(path, policy, expected_sha256=expected_sha256, create_only=expected_sha256 is None)
        except WriteConflict as conflict:
            if expected_sha256 is None:
                raise SmhvError("POLICY_EXISTS", "Policy %s of dataset %s already exists." % (policy.name, policy.dataset),
                                {"dataset": policy.dataset, "policy": policy.name}) from None
            raise conflict

    def delete_policy(self, dataset, name):
        self._ready()
        return bool(self.repository.delete([self._policy_path(dataset, name)]))

    # -- backups ---------------------------------------------------------------------------------

    def save_backup(self, record, existing=None, index=_UNREAD, fence=None):
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
        self._index_backup(record, index, existing if index is not _UNREAD else None)
        return written

    def _index_path(self, dataset):
        return "%s/index/%s.json" % (LAYOUT, dataset)

    def _index_backup(self, record, current=_UNREAD, listing=None):
        """Add `record` to its dataset's VM index with compare-and-swap. `listing`: the dataset's backups listed after
        `current` was read (save_backup()'s `existing`), else listed here after reading the index, so that every
        backup the index covers is in it (a VM's gap is computed from it)."""
        path = self._index_path(record.dataset)
        for attempt in range(CAS_ATTEMPTS):
            if current is _UNREAD or attempt:
                current, listing = self._read(path, "vm_index"), None
            if listing is None:
                listing = self.list_backups(dataset=record.dataset)
            index = self._indexed(record.dataset, current.record if current is not None else None, [record], listing)
            try:
                self._write(path, index, expected_sha256=current.sha256 if current else None, create_only=current is None)
                return
            except WriteConflict:
                self._back_off(attempt)
        raise SmhvError("CATALOG_CONFLICT", "The VM index of dataset %s kept changing underneath (%d attempts)."
                        % (record.dataset, CAS_ATTEMPTS), {"dataset": record.dataset})

    def _indexed(self, dataset, index, records, listing):
        """The VmIndex `index` (None: none yet) with `records` added, exact whenever the records it needs can be read.

        An exact index reads the listed backups newer than it covers (a writer died before indexing them; normally
        none); an index that is not exact, or none beside listed backups, is made exact from every listed record,
        once. If those records cannot be read, the index is updated as before `exact` existed: spans only.
        """
        names = set(record.name for record in records)
        others = [summary for summary in listing if summary.name not in names]
        if index is not None and index.exact:
            vms = _ExactVms(dataset, index)
            unread = [summary for summary in others if index.covered_until is None or summary.time > index.covered_until]
        else:
            vms, unread = _ExactVms(dataset), others
        try:
            read = self.get_backups(unread) if unread else []
        except SmhvError:
            return self._spans_only(dataset, index, records)
        # Every backup there is, the records being added included: a VM that comes back after them missed them too.
        times = sorted(set(summary.time for summary in others).union(_stamp_time(record.name) for record in records))
        for record in sorted(read + list(records), key=lambda r: _stamp_time(r.name)):
            vms.fold(record, times)
        vms.prune(times[0])
        return vms.record()

    @staticmethod
    def _spans_only(dataset, index, records):
        """An index that is not exact, updated as before: each VM's first and last backup, whatever was in between."""
        index = index or VmIndex(dataset)
        vms = {vm_id: dict(span) for vm_id, span in index.vms.items()}
        covered = index.covered_until
        for record in records:
            stamp = record.time.isoformat()
            for vm in record.vms:
                if vm.outcome == "skipped":
                    continue
                span = vms.setdefault(vm.vm_id, {"name": vm.name, "first": stamp, "last": stamp})
                span.update(name=vm.name, first=min(span["first"], stamp, key=datetime.datetime.fromisoformat),
                            last=max(span["last"], stamp, key=datetime.datetime.fromisoformat))
            covered = record.time if covered is None else max(covered, record.time)
        return VmIndex(dataset, covered, vms)

    def rebuild_vm_index(self, dataset):
        """Recompute a dataset's VM index, exact, from its records (after a restore of old SnapInfo, or by hand)."""
        self._ready()
        path = self._index_path(validate_name("dataset", dataset))
        for attempt in range(CAS_ATTEMPTS):
            current = self._read(path, "vm_index")
            listing = self.list_backups(dataset=dataset)  # after the index read, as _index_backup() needs
            records = self.get_backups(listing)
            times = sorted(summary.time for summary in listing)
            vms = _ExactVms(dataset)
            for record in sorted(records, key=lambda r: _stamp_time(r.name)):
                vms.fold(record, times)
            try:
                return self._write(path, vms.record(), expected_sha256=current.sha256 if current else None,
                                   create_only=current is None).record
            except WriteConflict:
                self._back_off(attempt)
        raise SmhvError("CATALOG_CONFLICT", "The VM index of dataset %s kept changing underneath (%d attempts)."
                        % (dataset, CAS_ATTEMPTS), {"dataset": dataset})

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
        summaries.sort(key=lambda s: (s.time, s.dataset, s.name))
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
        views = {name: _VmView(index, vm_id) for name, index in indexes.items()}
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

    def backed_up_vms(self, datasets):
        """SMHV's Get-VMsFromBackup: {vm_id: {"name", "datasets", "first", "last"}} over the backups of `datasets`.

        Read from the datasets' VM indexes (one batched read), plus the records of backups newer than
        an index covers, so a writer that died before updating an index hides no VM.
        """
        self._ready()
        datasets = [validate_name("dataset", name) for name in datasets]
        paths = {name: self._index_path(name) for name in datasets}
        found = self.repository.read(list(paths.values())) if paths else {}
        vms = {}

        def add(vm_id, name, dataset, first, last):
            entry = vms.setdefault(vm_id, {"name": name, "datasets": [], "first": first, "last": last})
            if dataset not in entry["datasets"]:
                entry["datasets"].append(dataset)
            entry["first"], entry["last"] = min(entry["first"], first), max(entry["last"], last)
            if last >= entry["last"]:
                entry["name"] = name

        for dataset, path in paths.items():
            index = decode(found[path].text, path, "vm_index") if found[path] is not None else VmIndex(dataset)
            for vm_id, span in index.vms.items():
                add(vm_id, span["name"], dataset, datetime.datetime.fromisoformat(span["first"]),
                    datetime.datetime.fromisoformat(span["last"]))
            newer = self.list_backups(dataset=dataset, since=index.covered_until) if index.covered_until else self.list_backups(dataset=dataset)
            newer = [summary for summary in newer if index.covered_until is None or summary.time > index.covered_until]
            for record in self.get_backups(newer):
                for vm in record.vms:
                    if vm.outcome != "skipped":
                        add(vm.vm_id, vm.name, dataset, record.time, record.time)
        return vms

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

    # -- journals --------------------------------------------------------------------------------

    @staticmethod
    def _journal_path(journal_id):
        if not _JOURNAL_ID.match(journal_id or ""):
            raise SmhvError("INVALID_ARGUMENT", "Journal id %r is not one this collection writes." % (journal_id,), {"journal": journal_id})
        return "%s/journals/%s.json" % (LAYOUT, journal_id)

    def create_journal(self, journal):
        """Write a new journal, create-only: a second operation with the same id (a backup's name) gets WriteConflict."""
        self._ready()
        return self._write(self._journal_path(journal.id), journal, create_only=True)

    def put_journal(self, journal, expected_sha256):
        """Save a journal's new state over the version read (one operation owns a journal; CAS catches a second one)."""
        self._ready()
        return self._write(self._journal_path(journal.id), journal, expected_sha256=expected_sha256)

    def get_journal(self, journal_id):
        self._ready()
        return self._read(self._journal_path(journal_id), "journal")

    def list_journals(self, state=None):
        """The open journals (an operation deletes its journal when it ends), oldest first, each Versioned."""
        self._ready()
        paths = [entry.path for entry in self.repository.list(LAYOUT + "/journals") if entry.name.endswith(".json")]
        found = self.repository.read(paths) if paths else {}
        journals = [Versioned(decode(found[path].text, path, "journal"), found[path].sha256) for path in paths if found[path] is not None]
        return sorted((j for j in journals if state is None or j.record.state == state), key=lambda j: (j.record.started, j.record.id))

    def delete_journal(self, journal_id, fence=None):
        """End a journal: its operation committed or was undone (fenced by the operation's lease when given)."""
        self._ready()
        self._delete([self._journal_path(journal_id)], fence=fence)

    # -- leases ----------------------------------------------------------------------------------

    @staticmethod
    def _lease_path(name):
        return "%s/leases/%s.json" % (LAYOUT, name.lower())

    def lease_fence(self, held):
        """The Fence of a lease held (Versioned(Lease)), for fenced writes and deletes."""
        return Fence(self._lease_path(held.record.file_name), held.record.token)

    def read_lease(self, name):
        """The lease file `name` (a scope, or "vm~<id>"): Versioned(Lease) or None."""
        self._ready()
        return self._read(self._lease_path(name), "lease")

    def acquire_lease(self, scope, holder, ttl, wait=0.0, poll=2.0, current=_UNREAD, operation=None, name=None, heartbeat=None):
        """Take a lease for `ttl` (timedelta); Versioned(Lease), to renew and release with. `name`: the lease file when it
        is not the scope's own ("vm~<id>"); `operation`: the journal id of the holder; `heartbeat`: seconds between its
        renewals (LeaseKeeper), which lets break_lease() tell a live holder from a dead one.

        A lease held by someone else fails at once with SCOPE_BUSY naming the holder, or after `wait` seconds of
        polling every `poll` seconds. A released or expired lease is taken over, with the next generation.
        `current`: the lease file as read before (Versioned or None, from read_for_backup()), which saves the first
        read when it shows the lease free; a lease it shows held is read again before anyone is told it is busy.
        """
        self._ready()
        name = name or scope
        path = self._lease_path(name)
        started = self.clock()
        if current is not _UNREAD and current is not None and not current.record.free_at(started):
            current = _UNREAD
        while True:
            if current is _UNREAD:
                current = self._read(path, "lease")
            now = self.clock()
            if current is None or current.record.free_at(now) or self._holder_gone(current.record):
                lease = Lease(scope, holder, uuid.uuid4().hex, now, now + ttl, generation=current.record.generation + 1 if current else 1,
                              controller=socket.gethostname(), pid=os.getpid(), operation=operation, renewed=now,
                              heartbeat_seconds=heartbeat, name=None if name == scope else name)
                try:
                    return self._write(path, lease, expected_sha256=current.sha256 if current else None, create_only=current is None)
                except WriteConflict:
                    current = _UNREAD
                    continue  # another controller took it first: look again
            current, held = _UNREAD, current.record
            waited = (now - started).total_seconds()
            if waited >= wait:
                what = "Scope %s" % scope if name == scope else "VM %s of scope %s" % (name.partition("~")[2], scope)
                raise SmhvError("SCOPE_BUSY", "%s is busy: %s has held its lease since %s (until %s unless renewed)%s. Run again "
                                "later, or give a wait timeout; a holder that died is found by netapp_hyperv.smhv.smhv_cleanup "
                                "(break_lease)." % (what, held.holder, held.acquired.isoformat(), held.expires.isoformat(),
                                                    " and did not release it within %g s" % wait if wait else ""),
                                {"scope": scope, "lease": name, "holder": held.holder, "operation": held.operation,
                                 "acquired": held.acquired.isoformat(), "expires": held.expires.isoformat()})
            self.sleep(min(poll, wait - waited))

    def renew_lease(self, held, ttl):
        """Extend a lease we hold; LEASE_LOST if it expired and another holder took it over."""
        now = self.clock()
        lease = dataclasses.replace(held.record, expires=now + ttl, renewed=now)
        try:
            return self._write(self._lease_path(lease.file_name), lease, expected_sha256=held.sha256)
        except WriteConflict:
            raise self._lost(held) from None

    def release_lease(self, held):
        """Mark the lease released (a write, not a deletion, so that releasing stays a compare-and-swap). Releasing a lease
        already released by us changes nothing; one taken over by another holder is LEASE_LOST."""
        lease = dataclasses.replace(held.record, released=True)
        path = self._lease_path(lease.file_name)
        try:
            return self._write(path, lease, expected_sha256=held.sha256)
        except WriteConflict:
            current = self._read(path, "lease")
            if current is not None and current.record.token == lease.token and current.record.released:
                return current
            raise self._lost(held) from None

    def check_lease(self, held):
        """Raise LEASE_LOST unless the lease file still carries our token, unreleased: the fence of a deletion on ONTAP."""
        fence = self.lease_fence(held)
        found = self.repository.read([fence.path])[fence.path]
        failure = fence_failure(fence, found.text if found is not None else None)
        if failure is not None:
            raise failure

    @staticmethod
    def _holder_gone(lease):
        """A holder on this controller whose process has ended: its lease is free (a killed run never blocks the next one)."""
        return lease.controller == socket.gethostname() and bool(lease.pid) and not _process_exists(lease.pid)

    def lease_alive(self, lease, now=None):
        """Whether a lease's holder is presumed alive: its process, when it runs on this controller, or else its renewals
        (renewed within two heartbeats; without heartbeats, until it expires)."""
        now = now or self.clock()
        if lease.free_at(now):
            return False
        if lease.controller == socket.gethostname() and lease.pid:
            return not self._holder_gone(lease)
        if lease.heartbeat_seconds and lease.renewed is not None:
            return (now - lease.renewed).total_seconds() < 2 * lease.heartbeat_seconds
        return True

    def break_lease(self, name):
        """Release the lease file `name` on behalf of a holder that died: the Lease broken, or None when it was free.
        Refused with LEASE_HELD while the holder is alive (lease_alive())."""
        self._ready()
        path = self._lease_path(name)
        current = self._read(path, "lease")
        now = self.clock()
        if current is None or current.record.free_at(now):
            return None
        held = current.record
        if self.lease_alive(held, now):
            raise SmhvError("LEASE_HELD", "The lease %s is held by %s (operation %s), which is still alive: renewed at %s. It is not "
                            "broken; wait for it to end." % (name, held.holder, held.operation, (held.renewed or held.acquired).isoformat()),
                            {"lease": name, "holder": held.holder, "operation": held.operation, "controller": held.controller, "pid": held.pid})
        try:
            self._write(path, dataclasses.replace(held, released=True), expected_sha256=current.sha256)
        except WriteConflict:
            raise SmhvError("LEASE_HELD", "The lease %s changed while it was being broken (its holder renewed it, or another run took "
                            "it); nothing was broken." % name, {"lease": name}) from None
        return held

    def _lost(self, held):
        current = self._read(self._lease_path(held.record.file_name), "lease")
        other = current.record.holder if current is not None else "nobody"
        return SmhvError("LEASE_LOST", "The lease of %s expired at %s and was taken over (now held by %s); this operation must "
                         "stop, its changes may collide." % (held.record.file_name, held.record.expires.isoformat(), other),
                         {"scope": held.record.scope, "holder": other})
