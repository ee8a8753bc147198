# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog's records as typed dataclasses, their JSON form, and schema migrations.

Every record carries `kind` and `schema_version`. decode() migrates older records in memory,
one version at a time through MIGRATIONS, so the engines only ever see the current shape; the
record is rewritten in that shape the next time it is saved. A record from a newer collection is
refused rather than half-understood: its writer may rely on fields this version would drop.
"""

from __future__ import annotations

import dataclasses
import datetime
import json

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import STAMP_FORMAT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import Retention
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import parse_schedule

SCHEMA_VERSION = 1
BACKUP_TYPES = ("application", "crash")
METHODS = ("checkpoint", "vss_provider", "crash")
OUTCOMES = ("online", "offline", "saved", "skipped")


def _time(text):
    return datetime.datetime.fromisoformat(text) if text is not None else None


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every record: `KIND` names it in JSON, `_NESTED` and `_TIMES` say how to decode fields."""

    KIND = ""
    _NESTED = {}
    _TIMES = ()

    def to_dict(self):
        out = {"kind": self.KIND, "schema_version": SCHEMA_VERSION}
        for field in dataclasses.fields(self):
            out[field.name] = _plain(getattr(self, field.name))
        return out

    @classmethod
    def from_dict(cls, data):
        values = {}
        for field in dataclasses.fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.name in cls._NESTED:
                value = tuple(cls._NESTED[field.name].from_dict(item) for item in value)
            elif field.name in cls._TIMES:
                value = _time(value)
            elif isinstance(value, list):
                value = tuple(value)
            values[field.name] = value
        return cls(**values)


def _plain(value):
    if isinstance(value, Record):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


@dataclasses.dataclass(frozen=True)
class CatalogFormat(Record):
    KIND = "format"
    _TIMES = ("created",)
    layout: str
    created: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Scope(Record):
    """A standalone host or a failover cluster, and where its SnapInfo and reports live."""

    KIND = "scope"
    _TIMES = ("created",)
    name: str
    scope_type: str  # standalone | cluster ("kind" names the record type in every file)
    nodes: tuple
    snapinfo_path: str
    report_path: str
    snapinfo_copies: int = 30
    created: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class DatasetMember(Record):
    vm_id: str  # lower-case GUID: the identity; the name is for display
    scope: str
    name: str


@dataclasses.dataclass(frozen=True)
class Dataset(Record):
    KIND = "dataset"
    _NESTED = {"members": DatasetMember}
    _TIMES = ("created", "updated")
    name: str
    description: str = ""
    members: tuple = ()
    created: datetime.datetime | None = None
    updated: datetime.datetime | None = None

    def member(self, vm_id):
        return next((member for member in self.members if member.vm_id == vm_id), None)


@dataclasses.dataclass(frozen=True)
class Policy(Record):
    """A dataset's policy. `schedule` is the option as given (rules_schedule.parse_schedule), None for on demand."""

    KIND = "policy"
    _TIMES = ("created",)
    dataset: str
    name: str
    retention_tag: str
    retention_count: int | None = None
    retention_age_seconds: int | None = None
    schedule: dict | None = None
    backup_type: str = "application"
    method: str = "checkpoint"
    allow_saved_state: bool = False
    snapmirror_update: bool = False
    snapvault_update: bool = False
    snapvault_label: str | None = None
    pre_script: dict | None = None  # {"path", "arguments", "host" (None: every member host)}
    post_script: dict | None = None
    created: datetime.datetime | None = None
    notify: str = "on_error_or_warning"  # never | on_error | on_error_or_warning | always (smhv_notify reads it)

    def retention(self):
        age = None if self.retention_age_seconds is None else datetime.timedelta(seconds=self.retention_age_seconds)
        return Retention(self.retention_tag, self.retention_count, age)

    def parsed_schedule(self):
        return None if self.schedule is None else parse_schedule(self.schedule)


@dataclasses.dataclass(frozen=True)
class BackupFile(Record):
    path: str
    kind: str  # config | vhd | checkpoint_config
    lun_serial: str
    cluster: str
    svm: str
    volume: str
    snapshots: tuple = ()  # the snapshot names holding this file, in its volume


@dataclasses.dataclass(frozen=True)
class BackupVm(Record):
    _NESTED = {"files": BackupFile}
    vm_id: str
    name: str
    host: str
    outcome: str  # online | offline | saved | skipped
    reason: str = ""  # why skipped, or why offline/saved
    files: tuple = ()
    snapshot_location: str = ""  # Hyper-V's SnapshotFileLocation at backup ("" in records made before it was kept)


@dataclasses.dataclass(frozen=True)
class BackupRecord(Record):
    KIND = "backup"
    _NESTED = {"vms": BackupVm}
    _TIMES = ("time",)
    name: str
    dataset: str
    policy: str | None  # None for an on-demand backup
    retention_tag: str
    backup_type: str  # application | crash
    method: str  # checkpoint | vss_provider | crash
    time: datetime.datetime
    scope: str
    status: str  # ok | failed
    vms: tuple = ()
    failed_step: str | None = None
    error: str | None = None
    error_code: str | None = None  # the stable code of a failed attempt's error (None in records made before it was kept)
    snapinfo_snapshot: str | None = None
    # After the commit point nothing deletes a backup: a later step's failure is kept here, as {"step", "code", "message"}.
    warnings: tuple = ()
    operation: str | None = None  # the id of the journal that made it

    def includes(self, vm_id):
        return any(vm.vm_id == vm_id and vm.outcome != "skipped" for vm in self.vms)


@dataclasses.dataclass(frozen=True)
class JournalStep(Record):
    """One entry of a journal: `intent` is written before a side effect, `done` after it with what it made, `undone` once
    its undo ran (absent counts as undone), `failed` when the side effect failed (it may still have acted)."""

    _TIMES = ("at",)
    name: str
    state: str  # intent | done | failed | undone
    at: datetime.datetime
    data: dict | None = None


JOURNAL_STEP_STATES = ("intent", "done", "failed", "undone")


@dataclasses.dataclass(frozen=True)
class Journal(Record):
    """The steps of one multi-step operation (backup, restore, mount, DR), so that a re-run resumes or undoes it.

    `lease` names the lease file the operation holds ("<scope>" or "vm~<id>") and `lease_token` its token: once that
    file carries another token, is released, or has expired, the journal is abandoned (journal.py)."""

    KIND = "journal"
    _NESTED = {"steps": JournalStep}
    _TIMES = ("started", "updated")
    id: str
    operation: str
    scope: str
    started: datetime.datetime
    state: str = "running"  # running | undo_incomplete | committed
    steps: tuple = ()
    subject: str | None = None  # what it works on: a dataset, a VM id, a backup
    lease: str | None = None
    lease_token: str | None = None
    controller: str | None = None
    pid: int | None = None
    updated: datetime.datetime | None = None
    error: dict | None = None  # {"step", "code", "message"} of the failure that left it open

    def step(self, name):
        return next((step for step in reversed(self.steps) if step.name == name), None)


@dataclasses.dataclass(frozen=True)
class Lease(Record):
    """Who holds a scope (or one VM): `token` is the fence, new at every acquisition, and `generation` counts them.

    A lease is free once released or expired; the holder renews it every `heartbeat_seconds` (expires = renewed + ttl),
    so a holder that stopped renewing for two heartbeats is presumed dead and its lease can be broken (Catalog.break_lease)."""

    KIND = "lease"
    _TIMES = ("acquired", "expires", "renewed")
    scope: str
    holder: str
    token: str
    acquired: datetime.datetime
    expires: datetime.datetime
    released: bool = False
    generation: int = 0
    controller: str | None = None
    pid: int | None = None
    operation: str | None = None
    renewed: datetime.datetime | None = None
    heartbeat_seconds: float | None = None
    name: str | None = None  # the lease file's name when it is not the scope's own ("vm~<id>")

    @property
    def file_name(self):
        return self.name or self.scope

    def free_at(self, now):
        return self.released or self.expires <= now


@dataclasses.dataclass(frozen=True)
class VmIndex(Record):
    """Per dataset: for each VM ever backed up, the first and last backup time including it.

    Backups after `covered_until` are not in the index yet (a writer died between the record and
    the index): a VM query reads those records too, so the index narrows reads but never hides a backup.

    An `exact` index also says, per VM, which backups inside its span do not include it (BackupRecord.includes():
    a skipped outcome is not included, a failed attempt's VMs are): `absent` holds time ranges, inclusive, to the
    second, no backup of which includes the VM, so a VM that leaves and comes back costs one range however many
    backups it missed, and a VM in every backup of its span costs nothing. A VM query then reads no record up to
    `covered_until`. Without `exact` (an index written before it existed, or rewritten by such a collection, which
    drops the fields it does not know) a query reads every record in the VM's span; the next backup of the dataset
    or Catalog.rebuild_vm_index() makes it exact again from the records.
    """

    KIND = "vm_index"
    _TIMES = ("covered_until",)
    dataset: str
    covered_until: datetime.datetime | None = None
    vms: dict = dataclasses.field(default_factory=dict)  # vm_id -> {"name", "first", "last"} (ISO times)
    exact: bool = False
    absent: dict = dataclasses.field(default_factory=dict)  # vm_id -> [[from, to], ...] (ISO times), only VMs with gaps


@dataclasses.dataclass(frozen=True)
class ImportedCatalog(Record):
    """Another scope's SnapInfo catalog brought in beside this scope's own (a failover onto a DR scope that has its own
    SnapInfo, catalog/imports.py): where it is on this scope's hosts, and the SnapInfo snapshot it was restored from."""

    KIND = "import"
    _TIMES = ("imported",)
    source_scope: str
    snapinfo_path: str
    lun: str
    snapshot: str
    imported: datetime.datetime | None = None
    journal: str | None = None


KINDS = {cls.KIND: cls for cls in (CatalogFormat, Scope, Dataset, Policy, BackupRecord, Journal, Lease, VmIndex, ImportedCatalog)}


def _backup_v0_to_v1(data):
    """v0 backups (pre-release) kept SMHV's stamp `timestamp` (UTC), `backup_type` app|crash, one
    `snapshots` list per VM and no retention tag (they were all on-demand, kept until deleted)."""
    data = dict(data)
    stamp = data.pop("timestamp")
    data["time"] = datetime.datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=datetime.timezone.utc).isoformat()
    data["backup_type"] = {"app": "application", "crash": "crash"}[data["backup_type"]]
    data.setdefault("method", "checkpoint" if data["backup_type"] == "application" else "crash")
    data.setdefault("retention_tag", "unlimited")
    vms = []
    for vm in data.get("vms", []):
        vm = dict(vm)
        snapshots = vm.pop("snapshots", [])
        vm["files"] = [dict(entry, snapshots=snapshots) for entry in vm.get("files", [])]
        vms.append(vm)
    data["vms"] = vms
    data["schema_version"] = 1
    return data


# (kind, from version) -> function returning the record one version up.
MIGRATIONS = {("backup", 0): _backup_v0_to_v1}


def encode(record):
    """The JSON text of a record: sorted keys, so equal records are equal bytes (a rewrite is a no-op)."""
    return json.dumps(record.to_dict(), sort_keys=True, indent=1) + "\n"


def decode(text, path, kind):
    """The record of kind `kind` in `text` (read from `path`), migrated to SCHEMA_VERSION."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SmhvError("CATALOG_CORRUPT", "Catalog file %s is not valid JSON (%s). Restore it from the latest SnapInfo snapshot, or "
                        "delete it if the record is not needed." % (path, exc), {"path": path}) from None
    if not isinstance(data, dict) or data.get("kind", kind) != kind:
        raise SmhvError("CATALOG_CORRUPT", "Catalog file %s does not hold a %s record." % (path, kind), {"path": path, "kind": kind})
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SmhvError("CATALOG_VERSION_UNSUPPORTED", "Catalog file %s has schema version %r; this collection reads up to %d. Upgrade "
                        "netapp_hyperv.smhv on this controller." % (path, version, SCHEMA_VERSION), {"path": path, "version": version})
    while version < SCHEMA_VERSION:
        migrate = MIGRATIONS.get((kind, version))
        if migrate is None:
            raise SmhvError("CATALOG_VERSION_UNSUPPORTED", "Catalog file %s is a %s record of schema version %d, which this collection "
                            "cannot migrate." % (path, kind, version), {"path": path, "version": version})
        data = migrate(data)
        version = data["schema_version"]
    try:
        return KINDS[kind].from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise SmhvError("CATALOG_CORRUPT", "Catalog file %s is not a valid %s record (%s)." % (path, kind, exc),
                        {"path": path, "kind": kind}) from None
