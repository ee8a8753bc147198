# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is mounted: one file per backup and host in the scope's catalog, `smhv/v1/mounts/<backup>~<host>.json`.

    {"kind": "mount", "backup": ..., "host": ..., "updated": ..., "luns": {<backed-up LUN serial>: {"clone": "/vol/v/name",
     "cluster", "svm", "clone_serial", "access_path", "operation"}}}

A mount writes it (fenced by its lease) once its clones are connected: from then on they are owned, so a second
`mounted` finds the same clones (their names carry the operation that made them) and smhv_cleanup leaves them alone.
An unmount removes the entries of the clones it deleted, and the file with the last one. The file is written through
the catalog's repository directly (plain JSON, no catalog record class), so the catalog module needs no change.
"""

from __future__ import annotations

import json

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow

MOUNTS = LAYOUT + "/mounts"


def mount_path(backup, host):
    return "%s/%s~%s.json" % (MOUNTS, backup, host.lower())


class MountRecord:
    """The mount record of `backup` on `host` as read (`sha256` None when there is none), changed, then saved."""

    def __init__(self, catalog, backup, host):
        self.catalog, self.backup, self.host = catalog, backup, host.lower()
        self.path = mount_path(backup, host)
        found = catalog.repository.read([self.path])[self.path]
        self.sha256 = found.sha256 if found is not None else None
        data = {}
        if found is not None:
            try:
                data = json.loads(found.text)
            except ValueError:
                raise SmhvError("CATALOG_CORRUPT", "Mount record %s is not valid JSON; delete it after checking which clones "
                                "smhv_mount made for backup %s on %s." % (self.path, backup, host), {"path": self.path}) from None
        self.luns = dict(data.get("luns") or {})

    def save(self, fence=None):
        """Write the record (or delete it when no LUN is left), compare-and-swap on the version read, fenced."""
        if not self.luns:
            if self.sha256 is not None:
                self.catalog.repository.delete([self.path], fence=fence)
                self.sha256 = None
            return
        text = json.dumps({"kind": "mount", "backup": self.backup, "host": self.host, "luns": self.luns,
                           "updated": utcnow().isoformat()}, sort_keys=True, indent=1) + "\n"
        try:
            self.sha256 = self.catalog.repository.write(self.path, text, expected_sha256=self.sha256, create_only=self.sha256 is None,
                                                        fence=fence)
        except WriteConflict:
            raise SmhvError("CATALOG_CONFLICT", "Mount record %s changed while this run held its lease; run again." % self.path,
                            {"path": self.path}) from None


def list_mounts(catalog):
    """Every mount record of the scope: [{"backup", "host", "luns"}] (for smhv_cleanup: the clones they name are owned)."""
    try:
        listed = catalog.repository.list(MOUNTS)
    except SmhvError as error:
        if error.code not in ("FILE_NOT_FOUND", "PATH_NOT_FOUND"):
            raise
        listed = []
    entries = [entry for entry in listed if entry.name.endswith(".json") and not entry.is_directory]
    if not entries:
        return []
    found = catalog.repository.read([entry.path for entry in entries])
    mounts = []
    for entry in entries:
        stored = found.get(entry.path)
        if stored is None:
            continue
        try:
            mounts.append(json.loads(stored.text))
        except ValueError:
            continue
    return mounts
