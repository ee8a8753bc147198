# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of one multi-step operation (docs/durability.md §2), kept in the scope's SnapInfo catalog.

    journal = OperationJournal.begin(catalog, "backup", scope, held_lease, key=name, subject=dataset)
    journal.intend("snapshot", volumes=[...])      # before the side effect: what it may make
    journal.done("snapshot", snapshots=[...])      # after it: what it made
    for step, data in journal.undo_log(): ...; journal.undone(step)
    journal.close()                                # the operation ended: committed, or wholly undone

An operation takes its lease before it begins its journal, and the journal names that lease and its token. A journal
is *abandoned* once its lease file carries another token: the holder died (or lost its lease, and then its fenced
commits and deletions fail), and whoever holds that lease now may recover it. Recovery functions are registered per
operation by the engines (register_recovery) and run by the next operation that takes the lease, and by smhv_cleanup.
The journal files, journals/<operation>~<key>.json, are read and written by the Catalog (JournalsMixin, here).
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import uuid

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Journal, JournalStep, decode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT, Versioned
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow

# operation name -> function(journal: OperationJournal, context) -> dict: what the recovery did ("undone", "finished",
# "left"). `context` is whatever the caller has for that scope (clients); the engines document what they need.
RECOVERY = {}


def register_recovery(operation, function):
    RECOVERY[operation] = function


_JOURNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,200}$")


class JournalsMixin:
    """Catalog operations on journal files, journals/<operation>~<key>.json (mixed into Catalog over a Store)."""

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


class OperationJournal:
    """One operation's journal: every change is one compare-and-swap write of the whole journal, so what is on the
    SnapInfo is always a state the operation was in."""

    def __init__(self, catalog, versioned, fence=None, clock=utcnow):
        self.catalog = catalog
        self.versioned = versioned
        self.fence = fence  # the lease it runs under (Catalog.lease_fence), for close()
        self.clock = clock

    @classmethod
    def begin(cls, catalog, operation, scope, lease, key=None, subject=None, clock=utcnow):
        """Create the journal `<operation>~<key>` (a random key when None), create-only: with a key, that is the claim
        of a name (a backup's), and a second operation with the same key gets WriteConflict. `lease`: the
        Versioned(Lease) the operation holds."""
        now = clock()
        journal = Journal("%s~%s" % (operation, key or uuid.uuid4().hex), operation, scope, now, subject=subject,
                          lease=lease.record.file_name, lease_token=lease.record.token, controller=socket.gethostname(),
                          pid=os.getpid(), updated=now)
        return cls(catalog, catalog.create_journal(journal), catalog.lease_fence(lease), clock)

    @property
    def record(self):
        return self.versioned.record

    @property
    def id(self):
        return self.record.id

    def _save(self, change):
        """Write the journal changed by `change(journal) -> {field: value}`. The operation is the journal's one writer, so a
        conflict means one of our own writes landed although its answer said otherwise (or never came): the change is
        made again over the version on the host, which keeps every step that did land."""
        for attempt in (1, 2):
            journal = dataclasses.replace(self.record, updated=self.clock(), **change(self.record))
            try:
                self.versioned = self.catalog.put_journal(journal, self.versioned.sha256)
                return self.versioned.record
            except (SmhvError, WriteConflict) as error:
                if isinstance(error, SmhvError) and (error.code == "LEASE_LOST" or not error.details.get("may_have_run")):
                    raise
                current = self.catalog.get_journal(self.id) if attempt == 1 else None
                if current is None:
                    raise SmhvError("CATALOG_CONFLICT", "The journal %s of this operation could not be written: %s" % (self.id, error),
                                    {"journal": self.id}) from None
                self.versioned = current
        return self.versioned.record

    def _add(self, name, state, data):
        step = JournalStep(name, state, self.clock(), data or None)
        return self._save(lambda journal: {"steps": journal.steps + (step,)})

    def intend(self, step, **data):
        """Before a side effect: what it may make (names, hosts, volumes), so that an undo finds it even when the answer
        is lost."""
        return self._add(step, "intent", data)

    def done(self, step, **data):
        """After a side effect: what it made (uuids, ids, paths)."""
        return self._add(step, "done", data)

    def failed(self, step, error):
        """A side effect that failed: it may still have acted, so it stays in the undo log."""
        return self._add(step, "failed", _error_data(error))

    def effect(self, step, action, **intent):
        """One side effect: its intent journaled before, what `action()` returned (a dict, or None) after; a failure is
        journaled as such (it may still have acted), then raised."""
        self.intend(step, **intent)
        try:
            made = action()
        except SmhvError as error:
            try:
                self.failed(step, error)
            except SmhvError:
                pass  # the intent is there: the undo treats the step as possibly done either way
            raise
        self.done(step, **(made or {}))
        return made

    def undone(self, step):
        return self._add(step, "undone", None)

    def set_state(self, state, error=None):
        return self._save(lambda journal: {"state": state, "error": _error_data(error) if error is not None else journal.error})

    def take_over(self, lease):
        """Adopt an abandoned journal under the lease we hold now (recovery), so that it is not recovered twice at once."""
        self.fence = self.catalog.lease_fence(lease)
        return self._save(lambda journal: {"lease": lease.record.file_name, "lease_token": lease.record.token,
                                           "controller": socket.gethostname(), "pid": os.getpid()})

    def merged(self, step):
        """Every `data` written for `step` (intent, done, failed), merged in order: what the step may have made."""
        merged = {}
        for entry in self.record.steps:
            if entry.name == step and entry.state != "undone" and entry.data:
                merged.update(entry.data)
        return merged

    def undo_log(self):
        """[(step, merged data)], newest first: each step that was intended and not undone since."""
        pending, seen = [], set()
        for entry in reversed(self.record.steps):
            if entry.name in seen:
                continue
            seen.add(entry.name)
            if entry.state != "undone":
                pending.append((entry.name, self.merged(entry.name)))
        return pending

    def state_of(self, step):
        found = self.record.step(step)
        return None if found is None else found.state

    def close(self):
        """The operation ended (committed, or wholly undone): delete the journal, fenced by its lease."""
        self.catalog.delete_journal(self.id, fence=self.fence)

    def keep_open(self, error):
        """An undo that could not finish: the journal stays, marked, for the next operation under that lease."""
        try:
            self.set_state("undo_incomplete", error)
        except SmhvError:
            pass  # it stays open as it was, which the next operation recovers just the same


def _error_data(error):
    if isinstance(error, SmhvError):
        return {"code": error.code, "message": error.message[:2000]}
    if isinstance(error, dict):
        return error
    return {"code": "INTERNAL_ERROR", "message": ("%s: %s" % (type(error).__name__, error))[:2000]}


def abandoned_journals(catalog, held, operations=None):
    """The open journals under the lease we hold (`held`, Versioned(Lease)) that another holder left: their token is not
    ours. Only the holder of a lease may recover its journals, so an operation that is still running elsewhere (and so
    still holds that lease) is never recovered under it. `operations`: only those operations."""
    name = held.record.file_name.lower()
    found = []
    for versioned in catalog.list_journals():
        journal = versioned.record
        if (journal.lease or "").lower() != name or journal.lease_token == held.record.token:
            continue
        if operations is None or journal.operation in operations:
            found.append(OperationJournal(catalog, versioned, catalog.lease_fence(held)))
    return found


def recover(catalog, held, context, operations=None):
    """Recover every abandoned journal under `held` with its operation's registered function; a list of
    {"journal", "operation", "subject", and what the function returned, or "error"}. A journal whose operation has no
    recovery function registered, or whose recovery fails, stays open (and is reported)."""
    outcomes = []
    for journal in abandoned_journals(catalog, held, operations):
        outcome = {"journal": journal.id, "operation": journal.record.operation, "subject": journal.record.subject}
        function = RECOVERY.get(journal.record.operation)
        if function is None:
            outcome["error"] = {"code": "RECOVERY_UNKNOWN", "message": "No recovery is known for operation %s." % journal.record.operation}
            outcomes.append(outcome)
            continue
        try:
            journal.take_over(held)
            outcome.update(function(journal, context) or {})
        except SmhvError as error:
            journal.keep_open(error)
            outcome["error"] = {"code": error.code, "message": error.message}
        outcomes.append(outcome)
    return outcomes
