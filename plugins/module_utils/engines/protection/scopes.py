# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scopes a protection module touches: one session, catalog and VM inventory per scope.

A dataset may span scopes (DESIGN §4), so smhv_dataset, smhv_policy and smhv_backup_info open
every scope they need through Scopes, which opens each one once, however many names (the cluster,
a node, a different case) point at it. A scope's catalog is its SnapInfo repository at the path its
registration names (host_registration.ScopeSession.require_registration); its VM inventory is one
vm_inventory call per host (every node of a cluster, in parallel), never one per VM.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import as_guid, refuse_surrounding_blanks, utcnow
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient, require_all


class ScopeHandle:
    """One open scope: `name` (cluster name, or the standalone host's name), `session`, `catalog`."""

    def __init__(self, session, clock):
        self.session = session
        self.name = session.name
        self.snapinfo_path, self.snapinfo_copies = session.require_registration()
        self.catalog = Catalog(HostRepository(session.owner, self.snapinfo_path), clock=clock)
        self._inventory = None

    def inventory(self):
        """Every VM of the scope (agent VM_SCHEMA records, each with its "scope"), one vm_inventory per host."""
        if self._inventory is None:
            replies = require_all(self.session.call_nodes("vm_inventory", {"require_all": False}))
            vms = {}
            for reply in replies.values():
                for vm in reply.result["vms"]:
                    vms.setdefault(vm["id"].lower(), dict(vm, id=vm["id"].lower(), scope=self.name))
            self._inventory = sorted(vms.values(), key=lambda vm: (vm["name"].casefold(), vm["id"]))
        return self._inventory

    def vm_by_id(self):
        return {vm["id"]: vm for vm in self.inventory()}

    def find_vm(self, wanted):
        """The VM a member names (GUID or name, exactly, case-insensitively as Windows does) in this scope;
        VM_NOT_FOUND or VM_AMBIGUOUS otherwise."""
        refuse_surrounding_blanks("VM name", wanted, "remove them, or name the VM by its id")
        guid = as_guid(wanted)
        if guid is not None:
            found = [vm for vm in self.inventory() if vm["id"] == guid]
        else:
            found = [vm for vm in self.inventory() if vm["name"].casefold() == wanted.casefold()]
        if len(found) == 1:
            return found[0]
        hosts = ", ".join(self.session.node_names)
        if not found:
            names = [vm["name"] for vm in self.inventory()]
            shown = ", ".join(names[:12]) + (" and %d more" % (len(names) - 12) if len(names) > 12 else "")
            raise SmhvError("VM_NOT_FOUND", "No VM %s %r in %s %s (hosts searched: %s). VMs there: %s. Check the name, or give the "
                            "member's scope." % ("with id" if guid else "named", wanted, self.session.kind, self.name, hosts,
                                                 shown or "none"), {"vm": wanted, "scope": self.name, "hosts": self.session.node_names})
        raise SmhvError("VM_AMBIGUOUS", "%d VMs are named %r in %s %s (ids %s); name the member by its id instead."
                        % (len(found), wanted, self.session.kind, self.name, ", ".join(vm["id"] for vm in found)),
                        {"vm": wanted, "scope": self.name, "ids": [vm["id"] for vm in found]})


class Scopes:
    """Scope handles by any name that reaches them; use as a context manager (closes every connection)."""

    def __init__(self, winrm_options, host_addresses, client_factory=HostClient, clock=utcnow):
        self._winrm = winrm_options
        self._addresses = host_addresses or {}
        self._factory = client_factory
        self.clock = clock
        self._by_request = {}
        self._by_name = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        for handle in self._by_name.values():
            handle.session.close()
        self._by_name.clear()
        self._by_request.clear()

    def get(self, requested):
        """The handle of the scope `requested` names (a cluster, one of its nodes, or a standalone host)."""
        refuse_surrounding_blanks("scope name", requested)
        key = requested.casefold()
        if key in self._by_request:
            return self._by_request[key]
        for handle in self._by_name.values():
            if key == handle.name.casefold() or key in (node.casefold() for node in handle.session.node_names):
                self._by_request[key] = handle
                return handle
        session = ScopeSession(requested, self._winrm, self._addresses, client_factory=self._factory)
        existing = self._by_name.get(session.name.casefold())
        if existing is not None:
            session.close()
            handle = existing
        else:
            try:
                handle = ScopeHandle(session, self.clock)
            except Exception:
                session.close()
                raise
            self._by_name[session.name.casefold()] = handle
        self._by_request[key] = handle
        return handle

    def opened(self):
        return list(self._by_name.values())
