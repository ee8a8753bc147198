"""What a backup, a mount and a restore cost in round trips, counted (not timed, so it cannot flake on a busy
machine): each host's agent calls by op (the lab's /agent-requests), its WinRM messages (HostClient
stats.round_trips) and the ONTAP REST requests (the lab's /ontap-requests), for one run of each through the
modules' code (everything but AnsibleModule). A change that adds a round trip to one of these chains fails here,
naming the operation, the host and the op; a change that removes one fails too, so that its budget comes down
with it (issue 20: fewer dependent round trips in backup, restore and mount).

Agent calls, connections and ONTAP requests are exact: the lab answers each op in one call and its ONTAP jobs are
instant here, so no poll is repeated. WinRM messages follow from them over PSRP: a connection is 3 (the pool's Create
and Receive, its Delete) and a call 2 (Command, Receive), plus at most one Receive more per call (one that comes
back before the pipeline's end, more often on a loaded machine), so they are checked between those bounds.
One scenario, built once (about 10 s).
"""
from __future__ import annotations

import collections

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import client as winhost_client
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_mount, smhv_restore
from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
MOUNT_ROOT = "C:\\SMHV\\Mounts"

# operation: ({host: {op: agent calls}}, {WinRM client: connections}, ONTAP requests), as counted on 2026-12-06
# (the agent's checkpoints side by side, issue 20). A cluster's client is named for the cluster (hvclus01) and talks
# to its owner node (hv01 in the agent's log).
BUDGETS = {
    "backup of a cluster (2 nodes)": (
        {"hv01": {"host_facts": 1, "file_read": 1, "file_write": 9, "file_list": 2, "backup_checkpoint": 1, "path_info": 1,
                  "checkpoint_remove": 1, "file_delete": 1},
         "hv02": {"backup_checkpoint": 1, "checkpoint_remove": 1}},
        {"hvclus01": 1, "hv02": 1}, 15),
    "backup of a host": (
        {"hv03": {"host_facts": 1, "file_read": 1, "file_write": 9, "file_list": 2, "backup_checkpoint": 1, "path_info": 1,
                  "checkpoint_remove": 1, "file_delete": 1}},
        {"hv03": 1}, 15),
    "mount of a VM's LUN": (
        {"hv03": {"host_facts": 1, "file_read": 4, "file_list": 2, "file_write": 6, "path_info": 1, "disk_connect": 1, "file_delete": 1}},
        {"hv03": 1}, 11),
    "unmount": (
        {"hv03": {"host_facts": 1, "file_read": 5, "file_list": 2, "file_write": 7, "disk_disconnect": 1, "file_delete": 3,
                  "disk_rescan": 1}},
        {"hv03": 1}, 5),
    "restore, LUN-level": (
        {"hv03": {"host_facts": 1, "vm_inventory": 2, "file_read": 3, "file_list": 4, "file_write": 20, "path_info": 1, "vm_stop": 1,
                  "file_copy": 1, "vm_remove": 1, "disk_disconnect": 1, "disk_connect": 1, "vm_import": 1, "vm_start": 1,
                  "file_delete": 2}},
        {"hv03": 1}, 6),
    "restore, file copy": (
        {"hv03": {"host_facts": 1, "vm_inventory": 2, "file_read": 4, "file_list": 7, "file_write": 19, "path_info": 1, "vm_stop": 1,
                  "file_copy": 2, "vm_remove": 1, "disk_connect": 1, "disk_disconnect": 1, "file_delete": 3, "disk_rescan": 1,
                  "vm_import": 1, "vm_start": 1}},
        {"hv03": 1}, 11),
}


class Counted:
    """The HostClients made while it is open, for their WinRM messages per host."""

    def __init__(self):
        self.hosts = []
        self._init = winhost_client.HostClient.__init__

    def __enter__(self):
        counted, original = self, self._init

        def init(client, *args, **kwargs):
            original(client, *args, **kwargs)
            counted.hosts.append(client)
        winhost_client.HostClient.__init__ = init
        return self

    def __exit__(self, *exc_info):
        winhost_client.HostClient.__init__ = self._init

    def messages(self):
        """{client name: (WinRM messages, connects, agent calls)}."""
        per_host = collections.defaultdict(lambda: [0, 0, 0])
        for client in self.hosts:
            for index, counter in enumerate((client.stats.round_trips, client.stats.connects, client.stats.calls)):
                per_host[client.name][index] += counter
        return {name: tuple(counts) for name, counts in per_host.items()}


def ontap_requests(lab):
    return sum(route["count"] for routes in lab.control("GET", "/ontap-requests").values() for route in routes)


def counted(lab, operation):
    """Run `operation`; ({host: {op: calls}}, {host: WinRM messages}, ONTAP requests) it cost, and its result."""
    lab.control("DELETE", "/agent-requests")
    before = ontap_requests(lab)
    with Counted() as clients:
        result = operation()
    calls = collections.defaultdict(collections.Counter)
    for request in lab.control("GET", "/agent-requests")["requests"]:
        calls[request["host"]][request["op"]] += 1
    return ({host: dict(ops) for host, ops in calls.items()}, clients.messages(), ontap_requests(lab) - before), result


@pytest.fixture(scope="module")
def costs(lab):
    lab.control("DELETE", "/faults")
    lab.reset()
    lab.control("POST", "/ontap-jobs", {"profile": "instant"})
    try:
        site = LabSite(lab)
        site.register("hv03", SNAPINFO)
        site.register("hvclus01", SNAPINFO)
        site.dataset("hv03", SNAPINFO, "trips", ["vm-file01", "vm-print01"])
        site.dataset("hvclus01", SNAPINFO, "trips", ["vm-web01", "vm-app01", "vm-web02"])
        found, results = {}, {}
        found["backup of a cluster (2 nodes)"], _result = counted(lab, lambda: site.backup("hvclus01", "trips", backup_method="checkpoint"))
        found["backup of a host"], results["backup"] = counted(lab, lambda: site.backup("hv03", "trips", backup_method="checkpoint"))
        common = dict(site.common, hyperv_host="hv03", backup=results["backup"]["backup"]["name"])
        mount = dict(common, vm="vm-file01", state="mounted", mount_root=MOUNT_ROOT, access="folder", drive_letters=None)
        found["mount of a VM's LUN"], results["mount"] = counted(lab, lambda: smhv_mount.run(mount, False))
        found["unmount"], results["unmount"] = counted(lab, lambda: smhv_mount.run(dict(mount, state="unmounted"), False))
        restore = dict(common, force=False, start=True, target_host=None, path_map=None, post_script=None, verify_snapshot=True)
        found["restore, LUN-level"], results["restore_lun"] = counted(lab, lambda: smhv_restore.run(dict(restore, vm="vm-print01"), False))
        found["restore, file copy"], results["restore_copy"] = counted(lab, lambda: smhv_restore.run(dict(restore, vm="vm-file01"), False))
    finally:
        lab.reset()
    return found, results


def test_the_scenario_did_its_work(costs):
    _found, results = costs
    assert results["backup"]["changed"] and results["mount"]["changed"] and results["unmount"]["changed"]
    assert results["restore_lun"]["changed"] and results["restore_copy"]["changed"]


@pytest.mark.parametrize("operation", sorted(BUDGETS))
def test_agent_calls_per_host_and_op_are_the_budget(costs, operation):
    assert costs[0][operation][0] == BUDGETS[operation][0], operation


@pytest.mark.parametrize("operation", sorted(BUDGETS))
def test_ontap_requests_are_the_budget(costs, operation):
    assert costs[0][operation][2] == BUDGETS[operation][2], operation


@pytest.mark.parametrize("operation", sorted(BUDGETS))
def test_winrm_connections_are_the_budget_and_messages_follow_from_them(costs, operation):
    calls, counted = costs[0][operation][0], costs[0][operation][1]
    assert {client: connects for client, (_sent, connects, _calls) in counted.items()} == BUDGETS[operation][1], operation
    assert sum(client_calls for _sent, _connects, client_calls in counted.values()) == sum(sum(ops.values()) for ops in calls.values())
    for client, (sent, connects, client_calls) in counted.items():
        least = 3 * connects + 2 * client_calls
        assert least <= sent <= least + client_calls, (operation, client, sent, connects, client_calls)


def test_every_operation_has_a_budget(costs):
    assert sorted(costs[0]) == sorted(BUDGETS), costs[0]
