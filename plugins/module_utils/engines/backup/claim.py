# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step `lease` of a backup: the scope's fenced lease, kept in the background; the journals earlier runs left under
it settled (journal.recover); then the backup's name claimed by creating its journal `backup~<name>` create-only,
before any side effect (docs/durability.md §1-2).

A name is SMHV's `<dataset>_<MM-DD-YYYY_HH.MM.SS>` of the second the run started. It is taken when the journal
create succeeds and no record of the dataset has that name (an earlier run of the same second committed, or recorded
its failed attempt, and closed its journal); otherwise the run moves to the next second (waiting for it to begin,
so that a name never says a time before the run) and claims again. Two runs of one second that both waited for the
lease therefore get two names, and neither can ever delete the other's snapshots: undo deletes by claimed names only.
"""

from __future__ import annotations

import datetime
import os
import socket
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import journal as journals
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import MAX_PARALLEL_HOSTS

# Seconds a run moves forward at most to find a free name (each move is one journal create and one listing).
MAX_CLAIMS = 30


def default_holder(dataset):
    return "smhv_backup of dataset %s from %s (pid %d)" % (dataset, socket.gethostname(), os.getpid())


class ClaimSteps:
    """Step lease of BackupEngine (a mixin), and the lease's use after it: fence(), check_lease(), _release_lease()."""

    def _take_lease(self):
        if self.method == "checkpoint" and (self.lease_read is None or self.lease_read.record.free_at(self.clock())):
            self._connect_nodes()
        holder = self.holder or default_holder(self.dataset)
        held = self.catalog.acquire_lease(self.scope.name, holder, self.lease_ttl, wait=self.lease_wait, poll=self.lease_poll,
                                          current=self.lease_read, operation="backup~" + self.name, heartbeat=heartbeat_seconds(self.lease_ttl))
        self.keeper = LeaseKeeper(self.lease_catalog, held, self.lease_ttl, clock=self.clock, foreground=self.catalog).start()
        # Backup journals only: another operation's recovery needs that operation's clients (smhv_cleanup runs them all).
        # Recovery that cannot run now changes nothing: what it would settle stays for the next run.
        try:
            self.recovered = journals.recover(self.catalog, held, self, operations=("backup",))
        except SmhvError as error:
            self.warnings.append("Interrupted backups of %s could not be looked for (%s); the next backup looks again." % (
                self.scope.name, error.message))
        for outcome in self.recovered:
            if "error" in outcome:
                self.warnings.append("An interrupted %s (journal %s) could not be settled: %s" % (
                    outcome["operation"], outcome["journal"], outcome["error"]["message"]))
        self._claim_name()

    def _claim_name(self):
        for _attempt in range(MAX_CLAIMS):
            try:
                claimed = OperationJournal.begin(self.catalog, "backup", self.scope.name, self.keeper.held, key=self.name,
                                                 subject=self.dataset, clock=self.clock)
            except WriteConflict:
                self._next_second()  # another run's open journal has this name
                continue
            try:
                listed = self.catalog.list_backups(dataset=self.dataset)
            except Exception:
                _quietly_close(claimed)  # else the next run finds it abandoned and closes it
                raise
            if any(summary.name == self.name for summary in listed):
                claimed.close()  # a run of the same second already ended with this name
                self._next_second()
                continue
            self.journal, self.listed = claimed, listed
            return
        raise SmhvError("BACKUP_EXISTS", "No free backup name for dataset %s in %d seconds from %s." % (self.dataset, MAX_CLAIMS, self.when),
                        {"dataset": self.dataset})

    def _after_the_last_lease(self):
        """A run that starts within the second the scope's lease was last taken (a retry right after a fast failure, the
        next backup of a loop) moves to the next second before it claims: the run that took the lease then most likely
        has this second's name, and a claim that fails costs a journal write and a deletion. The claim stays the
        guarantee; this only spares it."""
        if self.lease_read is None:
            return
        taken = self.lease_read.record.acquired.replace(microsecond=0)
        if taken >= self.when:
            self._next_second(taken)

    def _next_second(self, after=None):
        later = (after or self.when) + datetime.timedelta(seconds=1)
        self.sleep(max(0.0, (later - self.clock()).total_seconds()))
        self._stamp(later)

    def _connect_nodes(self):
        """Open the other nodes' connections while the coordinator writes the lease: the checkpoint call then
        starts without their open (2 WinRM messages each, paid whenever it happens). Only when the lease looks
        free, so a busy scope costs the nodes nothing; a node that cannot be reached now is retried, and
        reported, by the checkpoint call."""
        others = [client for client in self.scope.node_clients().values() if client is not self.scope.coordinator]
        openers = [client.connect for client in others if hasattr(client, "connect")]
        if openers:
            self.background.submit(_all_at_once, openers)

    # -- the lease held, for the steps after ------------------------------------------------------------

    @property
    def held(self):
        return self.keeper.held

    def node_clients(self):
        return self.scope.node_clients()

    def fence(self):
        """The Fence of the catalog writes and deletes that commit or delete (LEASE_LOST once a renewal found it lost)."""
        return self.keeper.fence()

    def check_lease(self):
        """Before a deletion on ONTAP: the keeper's state, then one read of the lease file (over the main connection:
        the keeper's own is for renewals)."""
        self.keeper.check_now()

    def _release_lease(self):
        """Stop renewing and release the lease over the main connection; False when it was lost (another run holds it)."""
        keeper, self.keeper = self.keeper, None
        if keeper.lost is not None:
            keeper.stop()
            return False
        keeper.release()
        return True


def _quietly_close(journal):
    try:
        journal.close()
    except Exception:  # pylint: disable=broad-except
        pass


def _all_at_once(functions):
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_HOSTS, len(functions))) as pool:
        for future in [pool.submit(function) for function in functions]:
            future.result()
