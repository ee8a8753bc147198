# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SnapInfo catalog of one scope: `Catalog`, composed of store.Store (the repository I/O) and a mixin per record
family (datasets, backups, listing, vm_index, journal, leases), as the lab's world/storage package composes its cluster.

One class of mixins rather than collaborating objects, because the families call each other (saving a backup lists its
dataset and updates its VM index; read_for_backup reads a dataset, a lease and an index in one batch; a policy needs
its dataset), and because every engine, the lease keeper and the tests use the one API `catalog.<operation>()`.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.backups import BackupsMixin
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.datasets import DatasetsMixin
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.imports import ImportsMixin
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import JournalsMixin
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeasesMixin
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import ListingMixin
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import Store
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.vm_index import VmIndexMixin


class Catalog(DatasetsMixin, BackupsMixin, ListingMixin, VmIndexMixin, JournalsMixin, LeasesMixin, ImportsMixin, Store):
    """The records of one scope's SnapInfo repository, over any Repository: Catalog(repository, clock=, sleep=)."""
