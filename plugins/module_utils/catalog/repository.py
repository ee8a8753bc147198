# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where catalog files live: the Repository protocol, MemoryRepository and HostRepository.

Paths given to a repository are relative and '/'-separated ("smhv/v1/datasets/prod.json"); the
repository maps them under its root. Like NTFS, the SnapInfo LUN's file system, names compare
case-insensitively and keep their case.

write() is atomic (readers see the old or the new file, never half of one) and can be conditional:
- expected_sha256: replace only if the file's current content hashes to this (compare-and-swap);
- create_only: create only if no file is there.
list() takes an optional name `prefix`, so a lookup by name need not list a whole directory, and an
optional `match`, a wildcard ('*' any run, '?' one character, as Get-ChildItem -Filter) the names must
also fit, so a listing of a time span need not return every name.
A failed condition raises WriteConflict with the hash actually found, so the caller re-reads and retries.

write() and delete() can also be fenced (`fence=Fence(lease path, token)`): they act only while that lease file
carries the token and is not released, else raise SmhvError LEASE_LOST and change nothing (docs/durability.md).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import json
import re
import threading
import typing

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

# Substrings without which no line of a file_list name listing can hold an empty, '.' or '..' part or a drive.
_SUSPECT_IN_NAMES = ("\\\\", "\n\n", "\n\\", "\\.", "\n.", ":")

# file_read takes many paths; this bounds one reply (records are a few KB) without costing round trips.
READ_BATCH = 500


class WriteConflict(Exception):
    """A conditional write found something else: `actual_sha256` is the current hash, None when the file is absent."""

    def __init__(self, path, expected_sha256, actual_sha256):
        super().__init__("%s changed underneath (expected %s, found %s)" % (path, expected_sha256 or "no file", actual_sha256 or "no file"))
        self.path = path
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256


class Fence(typing.NamedTuple):
    """The lease a fenced write or delete depends on: its file (a repository path) and the token it must carry."""

    path: str
    token: str


def fence_failure(fence, text):
    """None when the lease file's content `text` (None: no file) carries the fence's token unreleased, else the LEASE_LOST error."""
    found, released = None, False
    if text is not None:
        lease = json.loads(text)
        found, released = lease.get("token"), bool(lease.get("released"))
    if found == fence.token and not released:
        return None
    return SmhvError("LEASE_LOST", "The lease %s is no longer held by this operation (its token is now %s%s); nothing was changed."
                     % (fence.path, found, ", released" if released else ""),
                     {"path": fence.path, "token": fence.token, "found_token": found, "released": released})


@dataclasses.dataclass(frozen=True)
class StoredFile:
    text: str
    sha256: str


class Entry(typing.NamedTuple):
    """One directory entry (a tuple: a listing may hold thousands)."""

    path: str  # relative to the repository root, '/'-separated
    name: str
    is_directory: bool


def sha256_of(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parts(path):
    parts = [part for part in path.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise ValueError("not a relative file path: %r" % (path,))
    return parts


def wildcard(pattern):
    """The compiled, case-insensitive regex of a Get-ChildItem -Filter wildcard: '*' any run, '?' one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE | re.DOTALL)


def decode_file_names(result):
    """[(relative Windows path, is_directory)] of a file_list answer in format 'names' or 'names_gzip' (agent.RESULT_SCHEMAS).

    Raises ValueError when the text is not what the agent writes: bad base64 or gzip, an empty line or
    path part, or a path that leaves the listed directory.
    """
    text = result["names"]
    if not isinstance(text, str):
        raise ValueError("no names in a listing of format %r" % (result.get("format"),))
    if result["format"] == "names_gzip":
        try:
            text = gzip.decompress(base64.b64decode(text, validate=True)).decode("utf-8")
        except (binascii.Error, OSError, EOFError, UnicodeDecodeError) as error:
            raise ValueError("the gzip-compressed names do not decode (%s)" % error) from None
    elif result["format"] != "names":
        raise ValueError("format %r has no names" % (result["format"],))
    if not text:
        return []
    lines = [(line[:-1], True) if line[-1:] == "\\" else (line, False) for line in text.split("\n")]
    # Every part of a bad line starts at a line start or after a backslash, so a few substring searches clear a
    # listing of thousands of lines at once; only a listing they flag (a part starting with '.' is legal) is
    # checked line by line.
    if text[0] in "\\." or text[-1] == "\n" or any(suspect in text for suspect in _SUSPECT_IN_NAMES):
        for relative, _is_directory in lines:
            if ":" in relative or any(part in ("", ".", "..") for part in relative.split("\\")):
                raise ValueError("%r is not a path inside the listed directory" % (relative,))
    return lines


class MemoryRepository:
    """An in-process repository (unit tests, benchmarks): a tree of dicts behind one lock.

    Every operation holds the lock for its whole duration, so a conditional write is a true
    compare-and-swap, as the agent's file_write must be on the host.
    """

    def __init__(self):
        self._lock = threading.Lock()
        # directory key (casefolded parts) -> {casefolded name: (name, StoredFile or None for a directory)}
        self._tree = {(): {}}
        self.calls = {"read": 0, "write": 0, "list": 0, "delete": 0}

    def _get(self, parts):
        directory = self._tree.get(tuple(part.casefold() for part in parts[:-1]))
        if directory is None:
            return None
        return directory.get(parts[-1].casefold())

    def read(self, paths):
        with self._lock:
            self.calls["read"] += 1
            found = {}
            for path in paths:
                item = self._get(_parts(path))
                found[path] = item[1] if item is not None and item[1] is not None else None
            return found

    def _check_fence(self, fence):
        if fence is not None:
            item = self._get(_parts(fence.path))
            failure = fence_failure(fence, item[1].text if item is not None and item[1] is not None else None)
            if failure is not None:
                raise failure

    def write(self, path, text, expected_sha256=None, create_only=False, fence=None):
        parts = _parts(path)
        with self._lock:
            self.calls["write"] += 1
            current = self._get(parts)
            if current is not None and current[1] is None:
                raise ValueError("%s is a directory" % path)
            actual = current[1].sha256 if current is not None else None
            if (create_only and actual is not None) or (expected_sha256 is not None and actual != expected_sha256):
                raise WriteConflict(path, expected_sha256, actual)
            self._check_fence(fence)
            for depth in range(1, len(parts)):
                parent = self._tree[tuple(part.casefold() for part in parts[:depth - 1])]
                key = tuple(part.casefold() for part in parts[:depth])
                if key not in self._tree:
                    parent[parts[depth - 1].casefold()] = (parts[depth - 1], None)
                    self._tree[key] = {}
            stored = StoredFile(text, sha256_of(text))
            name = current[0] if current is not None else parts[-1]
            self._tree[tuple(part.casefold() for part in parts[:-1])][parts[-1].casefold()] = (name, stored)
            return stored.sha256

    def list(self, directory, recurse=False, prefix="", match=None):
        with self._lock:
            self.calls["list"] += 1
            key = tuple(part.casefold() for part in directory.split("/") if part)
            return self._list(key, [part for part in directory.split("/") if part], recurse, prefix.casefold(),
                              wildcard(match) if match else None)

    def _list(self, key, shown, recurse, prefix, match):
        entries = []
        for folded, (name, stored) in sorted(self._tree.get(key, {}).items()):
            if folded.startswith(prefix) and (match is None or match.fullmatch(name)):
                entries.append(Entry("/".join(shown + [name]), name, stored is None))
            # Like Get-ChildItem -Recurse -Filter: the prefix and match select entries, every directory is walked.
            if stored is None and recurse:
                entries.extend(self._list(key + (folded,), shown + [name], True, prefix, match))
        return entries

    def delete(self, paths, fence=None):
        with self._lock:
            self.calls["delete"] += 1
            self._check_fence(fence)
            deleted = []
            for path in paths:
                parts = _parts(path)
                directory = self._tree.get(tuple(part.casefold() for part in parts[:-1]))
                item = directory.get(parts[-1].casefold()) if directory is not None else None
                if item is not None and item[1] is not None:
                    del directory[parts[-1].casefold()]
                    deleted.append(path)
            return deleted


class HostRepository:
    """The SnapInfo directory of a scope, through the agent's file ops on one of its hosts.

    `root` is the Windows path of the catalog's parent ("C:\\ClusterStorage\\SnapInfo"). Reads of
    many records go out in batches of READ_BATCH paths per file_read call; a listing is one
    file_list call, whatever the number of files, answered in LIST_FORMAT: names relative to the
    listed directory, gzip-compressed (agent.RESULT_SCHEMAS["file_list"]), because a listing needs
    no sizes and the per-entry JSON of 10,000 backups was 1.8 MB.
    """

    LIST_FORMAT = "names_gzip"  # or "names" (plain text); HostRepository reads both

    def __init__(self, host_client, root):
        self.host = host_client
        self.root = root.rstrip("\\/")

    def _windows(self, path):
        return self.root + "\\" + "\\".join(_parts(path))

    def read(self, paths):
        paths = list(paths)
        found = {}
        for start in range(0, len(paths), READ_BATCH):
            batch = paths[start:start + READ_BATCH]
            reply = self.host.call("file_read", {"paths": [self._windows(path) for path in batch], "missing_ok": True})
            for path, item in zip(batch, reply.result["files"]):
                found[path] = StoredFile(item["content"], item["sha256"]) if item["exists"] else None
        return found

    def _fence_args(self, fence):
        return {} if fence is None else {"fence_path": self._windows(fence.path), "fence_token": fence.token}

    def write(self, path, text, expected_sha256=None, create_only=False, fence=None):
        args = {"path": self._windows(path), "content": text, "create_dirs": True}
        args.update(self._fence_args(fence))
        conditional = expected_sha256 is not None or create_only
        if conditional:
            # The agent compares and replaces under a <path>.lock on the host (docs/agent.md).
            args.update(expected_sha256=expected_sha256, create_only=create_only)
        try:
            reply = self.host.call("file_write", args, retry_safe=not conditional)
        except SmhvError as error:
            if error.code == "WRITE_CONFLICT":
                raise WriteConflict(path, expected_sha256, error.details.get("actual_sha256")) from None
            raise
        return reply.result["sha256"]

    def list(self, directory, recurse=False, prefix="", match=None):
        shown = _parts(directory) if directory.strip("/") else []
        where = self.root + "".join("\\" + part for part in shown)
        # Names only, gzip-compressed: 10,000 backups are ~40 KB instead of 1.8 MB of entries (one WinRM message
        # instead of six). The agent's filter is a wildcard, so `match` goes as it is and a prefix as prefix + '*'
        # (both: the match, the prefix re-checked here); names are re-checked here in any case, since Windows also
        # matches a filter against 8.3 short names.
        reply = self.host.call("file_list", {"path": where, "recurse": recurse, "filter": match or prefix + "*", "format": self.LIST_FORMAT})
        try:
            lines = decode_file_names(reply.result)
        except ValueError as error:
            raise SmhvError("HOST_PROTOCOL_ERROR", "The agent on host %s answered a listing of %s that cannot be read: %s."
                            % (self.host.name, where, error), {"path": where}) from None
        base = "/".join(shown) + "/" if shown else ""
        wanted = prefix.upper()
        fits = wildcard(match).fullmatch if match else None
        entries = []
        for relative, is_directory in lines:
            name = relative.rpartition("\\")[2]
            if (not wanted or name.upper().startswith(wanted)) and (fits is None or fits(name)):
                entries.append(Entry(base + relative.replace("\\", "/"), name, is_directory))
        return entries

    def delete(self, paths, fence=None):
        paths = list(paths)
        if not paths:
            return []
        reply = self.host.call("file_delete", dict({"paths": [self._windows(path) for path in paths]}, **self._fence_args(fence)))
        deleted = set(path.upper() for path in reply.result["deleted"])
        return [path for path in paths if self._windows(path).upper() in deleted]
