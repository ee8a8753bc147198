# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connectivity check of both sides: every ONTAP cluster, and the Hyper-V scope with all its nodes.

Everything is probed even after a failure, so one run tells an administrator every broken link;
the run then fails with the first failure's code and the whole report in `error_details`.
"""

from __future__ import annotations

import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import StorageEndpoint
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient, call_many


def _failure(error):
    return {"ok": False, "error_code": error.code, "msg": error.message}


def probe_storage(storage_systems):
    report = []
    for system in storage_systems:
        started = time.monotonic()
        entry = {"hostname": system["hostname"], "port": system.get("port") or 443}
        try:
            identity = StorageEndpoint(system).identity()
        except SmhvError as error:
            entry.update(_failure(error))
        else:
            entry.update(ok=True, cluster=identity.name, uuid=identity.uuid, version=identity.version_text)
        entry["seconds"] = round(time.monotonic() - started, 3)
        report.append(entry)
    return report


def _host_entry(client, facts):
    return {"name": client.name, "endpoint": client.settings.endpoint, "protocol": client.settings.protocol,
            "ok": True, "computer_name": facts["computer_name"], "os": facts["os"]["caption"],
            "build": "%s.%s" % (facts["os"]["version"], facts["os"]["ubr"])}


def probe_scope(scope, winrm_options, host_addresses):
    """The scope answers host_facts; for a failover cluster, every node is then reached by name."""
    report = {"scope": scope, "kind": "standalone", "nodes": []}
    with HostClient(scope, winrm_options, host_addresses) as client:
        try:
            facts = client.call("host_facts").result
        except SmhvError as error:
            report["nodes"].append(dict(_failure(error), name=scope, endpoint=client.settings.endpoint))
            return report
        report["nodes"].append(_host_entry(client, facts))
    cluster = facts["cluster"]
    if not cluster:
        return report
    report.update(kind="cluster", cluster=cluster["name"], owner_node=cluster["owner_node"])
    others = [node["name"] for node in cluster["nodes"] if node["name"].lower() != facts["computer_name"].lower()]
    clients = {name: HostClient(name, winrm_options, host_addresses) for name in others}
    try:
        answers = call_many(clients, "host_facts")
    finally:
        for node_client in clients.values():
            node_client.close()
    for name in others:
        answer = answers[name]
        if isinstance(answer, SmhvError):
            report["nodes"].append(dict(_failure(answer), name=name, endpoint=clients[name].settings.endpoint))
        else:
            report["nodes"].append(_host_entry(clients[name], answer.result))
    return report


def ping(scope, winrm_options, host_addresses, storage_systems):
    storage = probe_storage(storage_systems)
    hyperv = probe_scope(scope, winrm_options, host_addresses)
    result = {"changed": False, "actions": [], "storage": storage, "hyperv": hyperv}
    failures = [entry for entry in storage + hyperv["nodes"] if not entry["ok"]]
    if failures:
        summary = "; ".join("%s: %s" % (f.get("name") or f.get("hostname"), f["msg"]) for f in failures)
        raise SmhvError(failures[0]["error_code"], "%d of %d endpoints failed: %s"
                        % (len(failures), len(storage) + len(hyperv["nodes"]), summary), result)
    return result
