# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM index of a dataset, index/<dataset>.json: which VMs its backups hold, so that a listing by VM reads no record.

Per VM the index keeps the first and last backup that holds it and, as `absent`, the time ranges inside that span
whose backups do not (an exact index, VmIndex.exact); `covered_until` is the newest backup indexed. save_backup()
folds each new backup in with compare-and-swap; an index from before `exact` existed is rebuilt exact from the records
once, by the next backup of its dataset or by rebuild_vm_index(). docs/architecture.md ("The VM index is exact") has
the reasoning and what is not covered.
"""

from __future__ import annotations

import bisect
import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import VmIndex, decode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import CAS_ATTEMPTS, LAYOUT, UNREAD
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import STAMP_LENGTH, parse_stamp, validate_name


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


class VmView:
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


class VmIndexMixin:
    """Catalog operations on the datasets' VM indexes (mixed into Catalog over a Store)."""

    def _index_path(self, dataset):
        return "%s/index/%s.json" % (LAYOUT, dataset)

    def _index_backup(self, record, current=UNREAD, listing=None):
        """Add `record` to its dataset's VM index with compare-and-swap. `listing`: the dataset's backups listed after
        `current` was read (save_backup()'s `existing`), else listed here after reading the index, so that every
        backup the index covers is in it (a VM's gap is computed from it)."""
        path = self._index_path(record.dataset)
        for attempt in range(CAS_ATTEMPTS):
            if current is UNREAD or attempt:
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
