# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The arrival of a failback at the primary site: a failover from the DR site back to the primary, done by the failover's
own engine (failover.py) with the sites' roles swapped - the primary host is the "DR host", the DR scope the "source
scope", and the primary cluster the only storage asked. Its phases (discover, snapinfo, plan, break, snaprestore,
connect, restore, start) are the seed's failback steps 5 to 11: break the reversed relationships at the primary,
connect the LUNs at their old mount points, restore the SnapInfo LUN from its newest SMHV snapshot (the DR scope's, which
holds the DR site's backups), register the primary scope with it, restore the VMs with their path map, start them.

Two things differ from a failover, and this class says them:
- The primary host is still registered with the SnapInfo LUN it had, at the same path (the same LUN, now a mirror
  destination again): that is no sign the SnapInfo came back, so it is restored until its relationship is broken.
- The SnapInfo snapshot was taken while operations held leases in it (the backup that took it, at least): the restored
  copies of those leases look held, and would keep the primary scope busy until they expired. A lease last renewed
  before that snapshot was taken is such a copy - a live holder would have renewed it since - and is released.
- The final backup at the DR site copied the DR site's open failback journal into the SnapInfo snapshot; that copy
  belongs to no operation at the primary and is deleted once the SnapInfo is there (drop_departure_copies).
"""

from __future__ import annotations

import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failover import FailoverEngine

DEPARTURE_OPERATION = "failback"  # the DR site's journal (failback.py)


class Arrival(FailoverEngine):
    """FailoverEngine from the DR scope (`source_scope`) to the primary host (`session`), on the primary's storage."""

    def _discover(self, snapinfo_lun):
        super()._discover(snapinfo_lun)
        if self.snapinfo["relationship"].state != "broken_off" and self.snapinfo["present"]:
            self.snapinfo["present"] = False
            self.snapinfo_plan["action"] = "restore"

    def _bring_snapinfo(self):
        super()._bring_snapinfo()
        self.released_copies = self._release_copied_leases()

    def _release_copied_leases(self):
        catalog = self._catalog()
        taken = datetime.datetime.fromisoformat(self.snapinfo_plan["snapshot_time"])
        now = self.clock()
        released = []
        for entry in catalog.repository.list(LAYOUT + "/leases"):
            if entry.is_directory or not entry.name.endswith(".json"):
                continue
            versioned = catalog.read_lease(entry.name[:-len(".json")])
            lease = versioned.record if versioned is not None else None
            if lease is not None and not lease.free_at(now) and (lease.renewed or lease.acquired) <= taken:
                catalog.release_lease(versioned)
                released.append(lease.file_name)
        return released

    def catalog_at_primary(self):
        return self._catalog()

    def drop_departure_copies(self):
        """Delete the copy of the DR site's failback journal the SnapInfo snapshot carried here; the ids deleted."""
        catalog = self._catalog()
        copies = [versioned.record.id for versioned in catalog.list_journals() if versioned.record.operation == DEPARTURE_OPERATION]
        for journal_id in copies:
            catalog.delete_journal(journal_id)
        return copies
