# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fleet engines share: a scope's nodes with their facts, and a controlled reboot.

A scope is a standalone host or a failover cluster (DESIGN §4). The fleet modules act on every node
of a scope: the scope name answers host_facts (a cluster name reaches the owner node), then each node
is reached by its own name, so a fleet of clusters is handled node by node without the inventory
listing the nodes.
"""

from __future__ import annotations

import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient, call_many, require_all

# (major.minor.build) -> release name; the host's os.version is "10.0.17763".
RELEASES = {
    "6.0.6001": "Windows Server 2008 SP1",
    "6.0.6002": "Windows Server 2008 SP2",
    "6.1.7600": "Windows Server 2008 R2",
    "6.1.7601": "Windows Server 2008 R2 SP1",
    "6.2.9200": "Windows Server 2012",
    "6.3.9600": "Windows Server 2012 R2",
    "10.0.14393": "Windows Server 2016",
    "10.0.17763": "Windows Server 2019",
    "10.0.20348": "Windows Server 2022",
    "10.0.26100": "Windows Server 2025",
}


def release_name(os_version):
    return RELEASES.get(os_version, "Windows %s" % os_version)


class Scope:
    """A connected scope: `kind` (standalone | cluster), `nodes` (names, in the cluster's order), each
    node's host_facts in `facts`, and one HostClient per node in `clients`. Use as a context manager."""

    def __init__(self, name, winrm_options, host_addresses):
        self.name = name
        self.winrm_options = winrm_options
        self.host_addresses = host_addresses or {}
        self.kind = "standalone"
        self.cluster = None
        self.nodes = []
        self.facts = {}
        self.clients = {}

    def __enter__(self):
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        for client in self.clients.values():
            client.close()
        self.clients = {}

    def new_client(self, node):
        return HostClient(node, self.winrm_options, self.host_addresses)

    def _connect(self):
        first = self.new_client(self.name)
        try:
            facts = first.call("host_facts").result
        finally:
            first.close()
        cluster = facts["cluster"]
        if not cluster:
            self.nodes = [self.name]
            self.clients = {self.name: self.new_client(self.name)}
            self.facts = {self.name: facts}
            return
        self.kind, self.cluster = "cluster", cluster["name"]
        self.nodes = [node["name"] for node in cluster["nodes"]]
        down = [node["name"] for node in cluster["nodes"] if node["state"] != "Up"]
        if down:
            raise SmhvError("HOST_UNREACHABLE", "Cluster %s has nodes that are not up: %s. Every node must be up so that "
                            "all of them get the same configuration; bring them up or evict them, then run again."
                            % (cluster["name"], ", ".join(down)), {"scope": self.name, "down": down})
        self.clients = {node: self.new_client(node) for node in self.nodes}
        self.refresh_facts()

    def refresh_facts(self, nodes=None):
        """host_facts again, for `nodes` (default all), e.g. after a change or a reboot."""
        names = list(nodes or self.nodes)
        answers = require_all(call_many({n: self.clients[n] for n in names}, "host_facts"))
        self.facts.update({name: reply.result for name, reply in answers.items()})

    def call_all(self, op, args_per_node=None, check_mode=False, nodes=None):
        """One op on several nodes at once; {node: AgentReply}, or one SmhvError naming every failure."""
        names = list(nodes or self.nodes)
        args = dict((n, (args_per_node or {}).get(n, {})) for n in names)
        return require_all(call_many({n: self.clients[n] for n in names}, op, args, check_mode))

    def node_os(self, node):
        os_facts = self.facts[node]["os"]
        return {"caption": os_facts["caption"], "version": os_facts["version"], "ubr": os_facts["ubr"],
                "release": release_name(os_facts["version"]), "build": "%s.%s" % (os_facts["version"], os_facts["ubr"])}

    def reboot(self, node, timeout, reason, poll=2.0):
        """Restart one node and wait until it answers again with a new boot time (and, for a cluster
        node, until its cluster reports it up). Returns the seconds it took."""
        started = time.monotonic()
        client = self.clients.pop(node)
        try:
            before = client.call("host_reboot", {"reason": reason}).result["last_boot_time"]
        finally:
            client.close()
        deadline = started + timeout
        last_error = None
        while time.monotonic() < deadline:
            time.sleep(poll)
            probe = self.new_client(node)
            try:
                booted = probe.call("host_boot_info", timeout=max(1.0, deadline - time.monotonic())).result
            except SmhvError as error:
                last_error = error
                probe.close()
                continue
            if booted["last_boot_time"] != before:
                self.clients[node] = probe
                self.refresh_facts([node])
                if self._cluster_sees_up(node, deadline, poll):
                    return round(time.monotonic() - started, 1)
            else:
                probe.close()
        self.clients.setdefault(node, self.new_client(node))
        raise SmhvError("HOST_TIMEOUT", "Host %s did not come back from its restart within %d seconds%s. Check the host's console; "
                        "nothing else was changed on the other nodes after this restart."
                        % (node, timeout, " (last error: %s)" % last_error.message if last_error else ""),
                        {"host": node, "timeout": timeout})

    def _cluster_sees_up(self, node, deadline, poll):
        if self.kind != "cluster":
            return True
        while True:
            cluster = self.facts[node]["cluster"] or {}
            states = dict((n["name"].lower(), n["state"]) for n in cluster.get("nodes", []))
            if states.get(node.lower()) == "Up":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
            self.refresh_facts([node])
