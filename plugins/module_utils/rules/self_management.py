# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMHV's "Virtual Machine Self-Management" rule (the seed's appendix): the console must not manage the VM it runs in.

Restoring that VM from itself stops and deletes it mid-run, as SMHV's guide warns. A VM runs this controller (or the AWX
execution node) when one of its network adapters has one of the controller's addresses (winhost/controller.py).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


def _normal(address):
    try:
        return str(ipaddress.ip_address(str(address).split("%", maxsplit=1)[0]))
    except ValueError:
        return str(address).lower()


def controller_vm(vms, addresses):
    """The first VM record (vm_inventory's) whose ip_addresses meet `addresses`, with the addresses shared, or (None, [])."""
    mine = set(_normal(address) for address in addresses)
    for vm in vms:
        shared = sorted(set(_normal(address) for address in vm.get("ip_addresses", [])) & mine)
        if shared:
            return vm, shared
    return None, []


def refuse_controller_vm(vms, addresses, doing, host):
    """Raise CONTROLLER_VM when one of `vms` runs this controller; `doing` says what would happen to it ("restore")."""
    vm, shared = controller_vm(vms, addresses)
    if vm is not None:
        raise SmhvError("CONTROLLER_VM", "VM %s (%s) on host %s runs this Ansible controller (its network adapter has the controller's "
                        "address %s): a %s would stop or remove the VM that runs the task, in the middle of it. SMHV's guide forbids "
                        "managing the host of the VM the console runs in; run the task from a machine outside that VM (another "
                        "controller or execution node)." % (vm["name"], vm["id"], host, ", ".join(shared), doing),
                        {"vm": vm["name"], "vm_id": vm["id"], "host": host, "addresses": shared, "operation": doing})
