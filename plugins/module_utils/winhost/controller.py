# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The addresses of the machine the modules run on (the Ansible controller, or the AWX execution node), for the
self-management guard (rules/self_management.py): a VM of a managed host that has one of them runs this controller.

Two sources, both without a packet sent: the addresses the controller's host name resolves to, and the source address
the kernel picks to reach the Windows host (a UDP socket's connect() only chooses a route), which is the address the
host sees. An execution node in a container behind NAT shows the host its node's address, which neither source knows:
SMHV_CONTROLLER_ADDRESSES (comma-separated) adds addresses by hand.
"""

from __future__ import annotations

import os
import socket

ENVIRONMENT = "SMHV_CONTROLLER_ADDRESSES"


def controller_addresses(host_address=None):
    """The set of this controller's addresses (strings), the route to `host_address` (a WinRM host's address) included."""
    found = set(part.strip() for part in os.environ.get(ENVIRONMENT, "").split(",") if part.strip())
    try:
        found.update(str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass  # a host name that does not resolve: the route below still says which address the host sees
    if host_address:
        try:
            family, kind, protocol, canonical, target = socket.getaddrinfo(host_address, 5985, type=socket.SOCK_DGRAM)[0]
            del canonical
            probe = socket.socket(family, kind, protocol)
            try:
                probe.connect(target)
                found.add(str(probe.getsockname()[0]))
            finally:
                probe.close()
        except OSError:
            pass  # no route: the host cannot be reached from here either, and the call will say so
    return found
