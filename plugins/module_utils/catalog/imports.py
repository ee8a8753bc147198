# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catalogs brought in beside a scope's own: imports/<source scope>.json.

The seed's active DR site (TR-4226 chapter 8) has its own SnapInfo; to see the primary's VMs there, SMHV's runbook
copies the primary's SnapInfo into it. Copying would mix two scopes' datasets, policies and VM indexes (a dataset of the
same name in both would be overwritten, the DR scope's scheduler would run the primary's policies), so the primary's
restored catalog stays whole at its own path on the DR hosts, and the DR scope's catalog keeps one record per catalog
brought in, which smhv_backup_info follows to list its backups and VMs. smhv_failover writes it (engines/dr/discover.py).
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT

IMPORTS = LAYOUT + "/imports"


class ImportsMixin:
    """The records of other scopes' catalogs brought in beside this one (mixed into Catalog over a Store)."""

    @staticmethod
    def _import_path(source_scope):
        return "%s/%s.json" % (IMPORTS, source_scope.lower())

    def put_import(self, record):
        """Record (or replace) where `record.source_scope`'s catalog is."""
        self._ready()
        return self._write(self._import_path(record.source_scope), record)

    def get_import(self, source_scope):
        self._ready()
        found = self._read(self._import_path(source_scope), "import")
        return None if found is None else found.record

    def imported_catalogs(self):
        """Every ImportedCatalog, by source scope: one listing and one batched read."""
        self._ready()
        paths = [entry.path for entry in self.repository.list(IMPORTS) if not entry.is_directory and entry.name.endswith(".json")]
        return sorted(self._read_many(paths, "import"), key=lambda record: record.source_scope.casefold()) if paths else []
