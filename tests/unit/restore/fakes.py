"""Shared by the restore and mount unit tests: a real catalog in memory under the tests' hand-made catalogs, so that
the VM's lease, the journal and the mount records work as on a host."""
from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import MemoryRepository

SCOPE = Scope("hv03", "standalone", ("hv03",), "S:\\SnapInfo", "C:\\SMHV\\Reports")


class DurableCatalog(Catalog):
    """Leases, journals and mount records in memory; the tests' subclasses answer the backup lookups."""

    def __init__(self):
        super().__init__(MemoryRepository())
        self.initialize(SCOPE)

    def list_datasets(self):
        return []

    def backed_up_vms(self, datasets):
        return {}
