# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeping a lease while an operation runs (docs/durability.md §1).

    held = catalog.acquire_lease(scope, holder, ttl, heartbeat=heartbeat_seconds(ttl))
    with LeaseKeeper(heartbeat_catalog, held, ttl) as keeper:   # renews in the background
        ...
        catalog.save_backup(record, fence=keeper.fence())       # fenced commit
        keeper.check_now()                                      # before a deletion on ONTAP
        ...
    # leaving the block stops the renewals and releases the lease (a lease lost meanwhile is not touched)

The keeper renews over its own catalog, and so its own host connection: a HostClient runs one call at a time, and
a pre-script of an hour on the coordinator must not hold the renewal back. Renewals only extend `expires`; the token,
which fenced writes compare, stays, so a fenced write never races a renewal.
"""

from __future__ import annotations

import threading

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

# Renew this often (at most): a holder that died is seen after two missed heartbeats (Catalog.lease_alive).
MAX_HEARTBEAT_SECONDS = 60.0


def heartbeat_seconds(ttl):
    """Seconds between renewals of a lease of `ttl` (timedelta): a fifth of it, at most a minute, at least a second."""
    return max(1.0, min(MAX_HEARTBEAT_SECONDS, ttl.total_seconds() / 5))


class LeaseKeeper:
    """Renews `held` (Versioned(Lease)) every heartbeat until released. `catalog` is the Catalog it renews through."""

    def __init__(self, catalog, held, ttl, interval=None, clock=None, foreground=None):
        self.catalog = catalog
        # The Catalog of the operation's own connection, for check_now() and release(): the renewal's connection is
        # opened only when a renewal is due, so an operation shorter than a heartbeat never opens it.
        self.foreground = foreground or catalog
        self.held = held
        self.ttl = ttl
        self.interval = interval if interval is not None else heartbeat_seconds(ttl)
        self.clock = clock or catalog.clock
        self.lost = None  # the LEASE_LOST error once another holder took the lease
        self.renewals = 0
        self.last_error = None
        self._stop = threading.Event()
        self._renewing = threading.Lock()  # check() may renew from the caller's thread: one compare-and-swap at a time
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        try:
            self.release()
        except SmhvError:
            pass  # the lease expires by itself; callers that must report it call release() themselves

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="smhv-lease-%s" % self.held.record.file_name, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval) and self.lost is None:
            self.renew_now()

    def renew_now(self):
        """One renewal. A conflict means another holder took the lease: lost for good. Another failure (a host that did not
        answer) is retried at the next heartbeat, until the lease would have expired: then it counts as lost too, since
        another run may take it from then on."""
        with self._renewing:
            self._renew()

    def _renew(self):
        if self.lost is not None:
            return
        try:
            self.held = self.catalog.renew_lease(self.held, self.ttl)
            self.renewals += 1
            self.last_error = None
        except SmhvError as error:
            if error.code == "LEASE_LOST":
                self.lost = error
                return
            self.last_error = error
            if self.clock() >= self.held.record.expires:
                lease = self.held.record
                self.lost = SmhvError("LEASE_LOST", "The lease %s could not be renewed before it expired at %s (last error: %s); another "
                                      "operation may have taken it." % (lease.file_name, lease.expires.isoformat(), error.message),
                                      {"lease": lease.file_name})

    def check(self):
        """Raise LEASE_LOST when a renewal found the lease lost, or it expired unrenewed."""
        if self.lost is None and self.clock() >= self.held.record.expires:
            self.renew_now()
        if self.lost is not None:
            raise self.lost

    def fence(self):
        """The Fence for a fenced catalog write or delete (checked on the host as it writes)."""
        self.check()
        return self.foreground.lease_fence(self.held)

    def check_now(self):
        """check(), then one read of the lease file: the fence of a deletion on ONTAP, which the host cannot check for us."""
        self.check()
        try:
            self.foreground.check_lease(self.held)
        except SmhvError as error:
            if error.code == "LEASE_LOST":
                self.lost = error
            raise

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def release(self):
        """Stop renewing and release the lease; a lease lost meanwhile is left to its new holder."""
        self.stop()
        if self.lost is None:
            try:
                self.foreground.release_lease(self.held)
            except SmhvError as error:
                if error.code == "LEASE_LOST":
                    raise
                self.foreground.release_lease(self.held)  # once more: a lease left held blocks its scope until it expires
            self.lost = SmhvError("LEASE_LOST", "The lease %s was released." % self.held.record.file_name, {"lease": self.held.record.file_name})
