# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SnapInfo repository of one scope (DESIGN §4): its layout, and the reads and writes every record goes through.

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

Each family's records are read and written by a mixin of its own module (datasets.py: datasets and policies;
backups.py, listing.py and vm_index.py: backup records, their listings and the VM index; journal.py; leases.py), all
through this module's Store.

Concurrency. Independent records never share a file, so two writers only meet on a file that is
meant to be shared: a dataset definition, a VM index, a lease. Those are written with
compare-and-swap on the content hash (update_dataset() re-reads and retries on a conflict); new
records are written create-only, so two backups can never overwrite each other.
"""

from __future__ import annotations

import dataclasses
import random
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import CatalogFormat, decode, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict, sha256_of
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import NAME_MAX_LENGTH, STAMP_LENGTH, utcnow

FORMAT_PATH = "smhv/format.json"
LAYOUT = "smhv/v1"
SEPARATOR = "~"  # not allowed in dataset, policy or backup names, so a file name splits unambiguously
# The longest path the catalog writes below the SnapInfo path: a backup record of a longest-named
# dataset, as the agent's temporary file ".<name>.<32 hex>.tmp" beside it. It must fit MAX_PATH.
MAX_PATH = 259
_LONGEST_TAIL = len("\\%s\\backups\\" % LAYOUT) + NAME_MAX_LENGTH + 1 + len(".") + NAME_MAX_LENGTH + 1 + STAMP_LENGTH \
    + len("~unlimited~application~failed.json") + len(".") + 32 + len(".tmp")
# "Not read yet", for arguments that take a version read beforehand (None means the file is absent).
UNREAD = object()
# How many times a compare-and-swap update is tried, and the first pause (seconds) after losing one.
CAS_ATTEMPTS = 8
CAS_BACKOFF = 0.02


@dataclasses.dataclass(frozen=True)
class Versioned:
    """A record and the hash of the file it was read from (or written as): the `expected_sha256` of the next write."""

    record: object
    sha256: str


class Store:
    """The repository I/O of a Catalog (catalog/__init__.py composes it with the record families' mixins): reads that
    decode, the write settled by reading back, the format check, and the scope record.

    `clock` returns the current aware UTC time and `sleep` waits, both replaceable for tests.
    """

    def __init__(self, repository, clock=utcnow, sleep=time.sleep):
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
