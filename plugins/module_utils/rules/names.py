# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names: datasets, policies, backups, their snapshots and SnapInfo snapshots (DESIGN §8).

Backups are named as SMHV named them, ``<dataset>_<MM-DD-YYYY_HH.MM.SS>``, so admins who know SMHV
recognise them in ONTAP and scripts that parse SMHV names keep working. The time is always UTC: a
dataset spans hosts (and sites) in several time zones, and the name must mean one instant.

VM ids are GUIDs; `as_guid` tells one from a VM name. `utcnow` is the collection's one clock: names, records
and leases all compare instants in UTC.

SnapInfo snapshots are ``smhv_snapinfo_<hostname>_<MM-DD-YYYY_HH.MM.SS>``: the same stamp as the
backup they follow, so ``$SnapInfoSnapshot`` and ``$VMSnapshot`` of one backup carry the same time,
and a reader needs one format only. The host name is the short name in lower case (SMHV's own
scripts lower-cased it), reduced to the characters a dataset name may hold.

All functions but utcnow are pure; bad user input raises SmhvError(INVALID_ARGUMENT), a bad call ValueError.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

STAMP_FORMAT = "%m-%d-%Y_%H.%M.%S"
STAMP_LENGTH = len("03-14-2026_09.00.00")
SNAPINFO_PREFIX = "smhv_snapinfo_"
# The second snapshot of a vss_provider backup (SMHV: "the first name plus the appendix _backup").
VSS_SECOND_SUFFIX = "_backup"

# Names become directory and file names on the SnapInfo LUN (backups/<dataset>/<dataset>_<stamp>~...)
# and ONTAP snapshot names. 40 leaves room for a SnapInfo path of about 70 characters within Windows'
# 260-character MAX_PATH, which Windows PowerShell 5.1 still honours (catalog.Catalog.initialize).
NAME_MAX_LENGTH = 40
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_-]")
# Windows reserves these as device names, with any extension: "CON.json" is not a file.
_WINDOWS_RESERVED = frozenset(["CON", "PRN", "AUX", "NUL"] + ["COM%d" % n for n in range(1, 10)] + ["LPT%d" % n for n in range(1, 10)])

# A VM's id, as Hyper-V prints it or in braces as WMI and the registry do.
GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")

_BACKUP_NAME = re.compile(r"^(?P<dataset>[A-Za-z0-9_-]+)_(?P<stamp>[0-9_.-]{%d})$" % STAMP_LENGTH)
_SNAPINFO_NAME = re.compile(r"^" + SNAPINFO_PREFIX + r"(?P<host>[A-Za-z0-9_-]+)_(?P<stamp>[0-9_.-]{%d})$" % STAMP_LENGTH)


def refuse_surrounding_blanks(kind, text, hint="remove them"):
    """Names (VMs, scopes, hosts) are matched exactly; one that starts or ends with a blank fails here
    (INVALID_ARGUMENT), rather than matching a trimmed name in one place and nothing in another."""
    if isinstance(text, str) and text != text.strip():
        raise SmhvError("INVALID_ARGUMENT", "The %s %r starts or ends with a blank; names are matched exactly, so %s."
                        % (kind, text, hint), {"kind": kind, "name": text})
    return text


def validate_name(kind, name):
    """Check a dataset or policy name (`kind` says which, for the message); return it unchanged."""
    if not isinstance(name, str) or not name:
        raise SmhvError("INVALID_ARGUMENT", "The %s name is empty; use letters, digits, '_' and '-'." % kind, {"kind": kind, "name": name})
    bad = sorted(set(character for character in name if not _NAME_CHARACTER.fullmatch(character)))
    if bad:
        raise SmhvError("INVALID_ARGUMENT", "The %s name %r contains %s; use only letters, digits, '_' and '-' (SMHV's rule, and the "
                        "name becomes part of ONTAP snapshot and file names)." % (kind, name, ", ".join(repr(c) for c in bad)),
                        {"kind": kind, "name": name, "bad_characters": bad})
    if len(name) > NAME_MAX_LENGTH:
        raise SmhvError("INVALID_ARGUMENT", "The %s name %r has %d characters; the limit is %d (it becomes part of file paths on the "
                        "SnapInfo LUN)." % (kind, name, len(name), NAME_MAX_LENGTH), {"kind": kind, "name": name, "length": len(name)})
    if name.upper() in _WINDOWS_RESERVED:
        raise SmhvError("INVALID_ARGUMENT", "The %s name %r is a Windows device name and cannot be a file name on the SnapInfo LUN; "
                        "choose another." % (kind, name), {"kind": kind, "name": name})
    return name


def as_guid(text):
    """The lower-case GUID `text` spells (braces allowed), or None when it is a name."""
    match = GUID.match(text)
    return match.group(1).lower() if match else None


def utcnow():
    """Now, aware, in UTC: the default clock of every engine and of the catalog (tests pass their own)."""
    return datetime.datetime.now(datetime.timezone.utc)


def _utc(when):
    if not isinstance(when, datetime.datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("a time zone aware datetime is required, got %r" % (when,))
    return when.astimezone(datetime.timezone.utc)


def format_stamp(when):
    """The SMHV time stamp of an aware datetime, in UTC, to the second."""
    return _utc(when).strftime(STAMP_FORMAT)


def parse_stamp(stamp):
    """The UTC datetime of an SMHV stamp `MM-DD-YYYY_HH.MM.SS`, or None. Slices, not a regex: listings parse thousands."""
    if len(stamp) != STAMP_LENGTH or stamp[2] != "-" or stamp[5] != "-" or stamp[10] != "_" or stamp[13] != "." or stamp[16] != ".":
        return None
    year, month, day, hour, minute, second = stamp[6:10], stamp[0:2], stamp[3:5], stamp[11:13], stamp[14:16], stamp[17:19]
    digits = year + month + day + hour + minute + second
    if not (digits.isascii() and digits.isdigit()):
        return None
    try:
        # fromisoformat (C) of the same fields: a third of six int() and the constructor, for 100,000 names (issue 20).
        return datetime.datetime.fromisoformat("%s-%s-%sT%s:%s:%s+00:00" % (year, month, day, hour, minute, second))
    except ValueError:
        return None  # digits in the right places but no such date (02-30-2026)


def backup_name(dataset, when):
    """`<dataset>_<MM-DD-YYYY_HH.MM.SS>` for a backup of `dataset` taken at `when` (aware; written in UTC)."""
    return "%s_%s" % (validate_name("dataset", dataset), format_stamp(when))


def parse_backup_name(name):
    """(dataset, UTC datetime) of a backup name, or None when `name` is not one."""
    match = _BACKUP_NAME.match(name)
    when = parse_stamp(match["stamp"]) if match else None
    return None if when is None else (match["dataset"], when)


def snapshot_names(backup, method):
    """The ONTAP snapshot names a backup makes in each volume: one, or two for the VSS provider's pair."""
    if method == "vss_provider":
        return (backup, backup + VSS_SECOND_SUFFIX)
    if method in ("checkpoint", "crash"):
        return (backup,)
    raise ValueError("unknown backup method %r" % (method,))


def backup_of_snapshot(snapshot):
    """The backup name a snapshot belongs to (its own name, or without `_backup`), or None if not ours."""
    if parse_backup_name(snapshot) is not None:
        return snapshot
    if snapshot.endswith(VSS_SECOND_SUFFIX):
        base = snapshot[:-len(VSS_SECOND_SUFFIX)]
        if parse_backup_name(base) is not None:
            return base
    return None


def snapinfo_host(hostname):
    """The host part of a SnapInfo snapshot name: short name, lower case, other characters as '-'."""
    short = hostname.split(".", 1)[0].lower()
    cleaned = re.sub(r"[^a-z0-9_-]", "-", short)
    if not cleaned:
        raise ValueError("empty host name %r" % (hostname,))
    return cleaned


def snapinfo_snapshot_name(hostname, when):
    """`smhv_snapinfo_<hostname>_<MM-DD-YYYY_HH.MM.SS>` (UTC, the same stamp format as backups)."""
    return "%s%s_%s" % (SNAPINFO_PREFIX, snapinfo_host(hostname), format_stamp(when))


def parse_snapinfo_snapshot_name(name):
    """(host, UTC datetime) of a SnapInfo snapshot name, or None when `name` is not one."""
    match = _SNAPINFO_NAME.match(name)
    when = parse_stamp(match["stamp"]) if match else None
    return None if when is None else (match["host"], when)
