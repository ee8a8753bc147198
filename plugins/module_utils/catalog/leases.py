# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leases (docs/durability.md §1): the lease files leases/<scope>.json and leases/vm~<id>.json, and keeping one while
an operation runs.

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

import dataclasses
import os
import socket
import threading
import uuid

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Lease
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import Fence, WriteConflict, fence_failure
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT, UNREAD
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

# Renew this often (at most): a holder that died is seen after two missed heartbeats (Catalog.lease_alive).
MAX_HEARTBEAT_SECONDS = 60.0


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def holder_gone(lease):
    """A holder on this controller whose process has ended: its lease is free (a killed run never blocks the next one)."""
    return lease.controller == socket.gethostname() and bool(lease.pid) and not _process_exists(lease.pid)


class LeasesMixin:
    """Catalog operations on lease files (mixed into Catalog over a Store)."""

    @staticmethod
    def _lease_path(name):
        return "%s/leases/%s.json" % (LAYOUT, name.lower())

    def lease_fence(self, held):
        """The Fence of a lease held (Versioned(Lease)), for fenced writes and deletes."""
        return Fence(self._lease_path(held.record.file_name), held.record.token)

    def read_lease(self, name):
        """The lease file `name` (a scope, or "vm~<id>"): Versioned(Lease) or None."""
        self._ready()
        return self._read(self._lease_path(name), "lease")

    def acquire_lease(self, scope, holder, ttl, wait=0.0, poll=2.0, current=UNREAD, operation=None, name=None, heartbeat=None):
        """Take a lease for `ttl` (timedelta); Versioned(Lease), to renew and release with. `name`: the lease file when it
        is not the scope's own ("vm~<id>"); `operation`: the journal id of the holder; `heartbeat`: seconds between its
        renewals (LeaseKeeper), which lets break_lease() tell a live holder from a dead one.

        A lease held by someone else fails at once with SCOPE_BUSY naming the holder, or after `wait` seconds of
        polling every `poll` seconds. A released or expired lease is taken over, with the next generation.
        `current`: the lease file as read before (Versioned or None, from read_for_backup()), which saves the first
        read when it shows the lease free; a lease it shows held is read again before anyone is told it is busy.
        """
        self._ready()
        name = name or scope
        path = self._lease_path(name)
        started = self.clock()
        if current is not UNREAD and current is not None and not current.record.free_at(started):
            current = UNREAD
        while True:
            if current is UNREAD:
                current = self._read(path, "lease")
            now = self.clock()
            if current is None or current.record.free_at(now) or holder_gone(current.record):
                lease = Lease(scope, holder, uuid.uuid4().hex, now, now + ttl, generation=current.record.generation + 1 if current else 1,
                              controller=socket.gethostname(), pid=os.getpid(), operation=operation, renewed=now,
                              heartbeat_seconds=heartbeat, name=None if name == scope else name)
                try:
                    return self._write(path, lease, expected_sha256=current.sha256 if current else None, create_only=current is None)
                except WriteConflict:
                    current = UNREAD
                    continue  # another controller took it first: look again
            current, held = UNREAD, current.record
            waited = (now - started).total_seconds()
            if waited >= wait:
                what = "Scope %s" % scope if name == scope else "VM %s of scope %s" % (name.partition("~")[2], scope)
                raise SmhvError("SCOPE_BUSY", "%s is busy: %s has held its lease since %s (until %s unless renewed)%s. Run again "
                                "later, or give a wait timeout; a holder that died is found by netapp_hyperv.smhv.smhv_cleanup "
                                "(break_lease)." % (what, held.holder, held.acquired.isoformat(), held.expires.isoformat(),
                                                    " and did not release it within %g s" % wait if wait else ""),
                                {"scope": scope, "lease": name, "holder": held.holder, "operation": held.operation,
                                 "acquired": held.acquired.isoformat(), "expires": held.expires.isoformat()})
            self.sleep(min(poll, wait - waited))

    def renew_lease(self, held, ttl):
        """Extend a lease we hold; LEASE_LOST if it expired and another holder took it over."""
        now = self.clock()
        lease = dataclasses.replace(held.record, expires=now + ttl, renewed=now)
        try:
            return self._write(self._lease_path(lease.file_name), lease, expected_sha256=held.sha256)
        except WriteConflict:
            raise self._lost(held) from None

    def release_lease(self, held):
        """Mark the lease released (a write, not a deletion, so that releasing stays a compare-and-swap). Releasing a lease
        already released by us changes nothing; one taken over by another holder is LEASE_LOST."""
        lease = dataclasses.replace(held.record, released=True)
        path = self._lease_path(lease.file_name)
        try:
            return self._write(path, lease, expected_sha256=held.sha256)
        except WriteConflict:
            current = self._read(path, "lease")
            if current is not None and current.record.token == lease.token and current.record.released:
                return current
            raise self._lost(held) from None

    def check_lease(self, held):
        """Raise LEASE_LOST unless the lease file still carries our token, unreleased: the fence of a deletion on ONTAP."""
        fence = self.lease_fence(held)
        found = self.repository.read([fence.path])[fence.path]
        failure = fence_failure(fence, found.text if found is not None else None)
        if failure is not None:
            raise failure

    def lease_alive(self, lease, now=None):
        """Whether a lease's holder is presumed alive: its process, when it runs on this controller, or else its renewals
        (renewed within two heartbeats; without heartbeats, until it expires)."""
        now = now or self.clock()
        if lease.free_at(now):
            return False
        if lease.controller == socket.gethostname() and lease.pid:
            return not holder_gone(lease)
        if lease.heartbeat_seconds and lease.renewed is not None:
            return (now - lease.renewed).total_seconds() < 2 * lease.heartbeat_seconds
        return True

    def break_lease(self, name):
        """Release the lease file `name` on behalf of a holder that died: the Lease broken, or None when it was free.
        Refused with LEASE_HELD while the holder is alive (lease_alive())."""
        self._ready()
        path = self._lease_path(name)
        current = self._read(path, "lease")
        now = self.clock()
        if current is None or current.record.free_at(now):
            return None
        held = current.record
        if self.lease_alive(held, now):
            raise SmhvError("LEASE_HELD", "The lease %s is held by %s (operation %s), which is still alive: renewed at %s. It is not "
                            "broken; wait for it to end." % (name, held.holder, held.operation, (held.renewed or held.acquired).isoformat()),
                            {"lease": name, "holder": held.holder, "operation": held.operation, "controller": held.controller, "pid": held.pid})
        try:
            self._write(path, dataclasses.replace(held, released=True), expected_sha256=current.sha256)
        except WriteConflict:
            raise SmhvError("LEASE_HELD", "The lease %s changed while it was being broken (its holder renewed it, or another run took "
                            "it); nothing was broken." % name, {"lease": name}) from None
        return held

    def _lost(self, held):
        current = self._read(self._lease_path(held.record.file_name), "lease")
        other = current.record.holder if current is not None else "nobody"
        return SmhvError("LEASE_LOST", "The lease of %s expired at %s and was taken over (now held by %s); this operation must "
                         "stop, its changes may collide." % (held.record.file_name, held.record.expires.isoformat(), other),
                         {"scope": held.record.scope, "holder": other})


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
