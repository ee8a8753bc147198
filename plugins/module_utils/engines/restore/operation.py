# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One restore, mount or unmount as a durable operation (docs/durability.md): its lease, then the recovery of what an
earlier holder of that lease left, then its journal; at the end the journal closed and the lease released.

    operation = LeasedOperation(session, catalog, "restore", "vm~" + vm_id, subject=vm_id)
    recovered = operation.start(RecoveryContext(session, storage))   # SCOPE_BUSY while another run holds the lease
    operation.journal.intend(...); ...; operation.journal.done(...)
    operation.finish()        # or operation.end_failed(error, undone=...)

A restore and a mount of one VM take `vm~<vm id>`; a mount or unmount of a whole backup on a host takes
`mount~<backup>~<host>` (the mount record and folders they share). The operation id `<operation>~<hex>` names the journal,
and its first 8 hex digits (`short`) go into the names of the clones and folders it makes, so two runs never share one.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal, recover
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.leases import LeaseKeeper, heartbeat_seconds

# A restore copies virtual disks (hours for large ones): the keeper renews every minute, so a dead holder is seen after two.
DEFAULT_TTL = datetime.timedelta(minutes=10)


class RecoveryContext:
    """What a recovery function (engines/restore/undo.py, engines/mount/undo.py) needs: the scope's session, the
    StorageClient, the scope's Catalog (a mount's recovery reads the mount record), and host clients by name. A journal
    names its hosts; `host(name)` is the session's owner or one of its nodes, or a client given in `hosts` (an alternate
    host's); any other host cannot be reached and its recovery waits."""

    def __init__(self, session, storage, catalog=None, hosts=None):
        self.session = session
        self.storage = storage
        self.catalog = catalog
        self.hosts = dict((name.lower(), client) for name, client in (hosts or {}).items())

    def host(self, name):
        wanted = (name or "").lower()
        if wanted in self.hosts:
            return self.hosts[wanted]
        owner = self.session.owner
        if wanted in (owner.name.lower(), str(self.session.facts.get("computer_name", "")).lower()):
            return owner
        if getattr(self.session, "kind", "standalone") == "cluster":
            for node, client in self.session.other_nodes().items():
                if node.lower() == wanted:
                    return client
        raise SmhvError("HOST_UNREACHABLE", "Host %s, which an interrupted operation used, is not one of scope %s; run the "
                        "operation (or smhv_cleanup) with a session that reaches it." % (name, self.session.name), {"host": name})


def keeper_catalog(session, catalog):
    """The catalog the lease keeper renews through: over a second connection to the coordinating host when there is one
    (a HostClient runs one call at a time, and a file copy of an hour must not hold the renewal back)."""
    repository = getattr(catalog, "repository", None)
    spare = getattr(session, "spare_owner", None)
    if isinstance(repository, HostRepository) and spare is not None:
        return Catalog(HostRepository(spare(), repository.root), clock=catalog.clock)
    return catalog


class LeasedOperation:
    def __init__(self, session, catalog, operation, lease_name, subject, ttl=DEFAULT_TTL, holder=None):
        self.session = session
        self.catalog = catalog
        self.operation = operation
        self.lease_name = lease_name
        self.subject = subject
        self.ttl = ttl
        self.key = uuid.uuid4().hex
        self.id = "%s~%s" % (operation, self.key)
        self.short = self.key[:8]
        self.holder = holder or "%s %s of %s from %s (pid %d)" % (operation, self.id, subject, socket.gethostname(), os.getpid())
        self.keeper = None
        self.journal = None
        self.close_error = None

    def start(self, context):
        """Take the lease (SCOPE_BUSY when held), recover the journals an earlier holder left under it, begin our journal.
        The recoveries' outcomes are returned (journal.recover()): an error in one fails this run, its journal stays open."""
        held = self._acquire()
        self.keeper = LeaseKeeper(keeper_catalog(self.session, self.catalog), held, self.ttl, foreground=self.catalog).start()
        try:
            recovered = recover(self.catalog, held, context)
            failed = [outcome for outcome in recovered if outcome.get("error")]
            if failed:
                raise SmhvError(failed[0]["error"]["code"], "An interrupted %s (journal %s) of %s could not be recovered: %s. Nothing "
                                "else was done; fix the cause and run again, or see smhv_cleanup." % (
                                    failed[0]["operation"], failed[0]["journal"], self.subject, failed[0]["error"]["message"]),
                                {"recovered": recovered})
            self.journal = OperationJournal.begin(self.catalog, self.operation, self.session.name, held, key=self.key, subject=self.subject)
        except BaseException:
            self.release()
            raise
        return recovered

    def _acquire(self):
        """acquire_lease(); when it failed in a way that may have written the lease (an answer the host never sent), the
        lease file is read back: our operation id there means we hold it."""
        try:
            return self.catalog.acquire_lease(self.session.name, self.holder, self.ttl, operation=self.id, name=self.lease_name,
                                              heartbeat=heartbeat_seconds(self.ttl))
        except SmhvError as error:
            if error.code in ("SCOPE_BUSY", "LEASE_HELD", "INVALID_ARGUMENT"):
                raise
            try:
                found = self.catalog.read_lease(self.lease_name)
            except SmhvError:
                raise error from None
            if found is None or found.record.operation != self.id or found.record.released:
                raise
            return found

    def finish(self):
        """The operation ended (committed or wholly undone): journal closed, lease released. Neither raises: a journal
        that could not be deleted stays for the next run under the lease to settle (`close_error` says why), and a lease
        whose release was lost expires."""
        try:
            self.journal.close()
        except SmhvError as error:
            self.close_error = error
        finally:
            self.release()

    def keep_open(self, error):
        """An undo that could not finish: the journal stays open for the next holder of the lease (or smhv_cleanup)."""
        try:
            self.journal.keep_open(error)
        finally:
            self.release()

    def release(self):
        try:
            self.keeper.release()
        except SmhvError:
            pass  # not released: it expires by itself, and our process ends, which frees it on this controller at once
