"""smhv_dataset's engine over the lab's default world, in process: each rule with the message a user sees.

The hosts are the lab's Hyper-V AgentExecutor (real vm_inventory, file and registry ops over the world
model), reached without WinRM; the world is changed directly to break one rule at a time.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.datasets import ensure_dataset
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import registry_key
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from smhv_lab.faults import FaultRegistry
from smhv_lab.hyperv import AgentExecutor
from smhv_lab.topology import build_world
from smhv_lab.world.windows import VirtualMachine, new_vhdx

import smhv_lab

TOPOLOGY = Path(smhv_lab.__file__).parent / "topologies" / "default.yml"
NOW = datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc)
GIB = 1024 ** 3


class LabClient:
    """A HostClient stand-in that hands requests to the lab's executor (a cluster name reaches its owner node)."""

    def __init__(self, name, executor, world):
        self.name = name
        self._executor, self._world = executor, world
        cluster = world.failover_clusters.get(name)
        self._host = cluster.owner_node if cluster else name
        self.calls = []

    def call(self, op, args=None, check_mode=False, timeout=None, retry_safe=None):
        self.calls.append(op)
        answer = self._executor._dispatch(self._host, agent.encode_request(op, args or {}, check_mode))  # pylint: disable=protected-access
        if not answer["ok"]:
            error = answer["error"]
            raise SmhvError(error["code"], error["message"], error["details"])
        assert agent.validate_result(op, answer["result"]) == []
        return AgentReply(answer["result"], answer["changed"], answer["warnings"])

    def close(self):
        pass


@pytest.fixture
def site():
    import yaml
    world = build_world(yaml.safe_load(TOPOLOGY.read_text()))
    executor = AgentExecutor(world, FaultRegistry())
    clients = []

    def factory(name, winrm, addresses):
        client = LabClient(name, executor, world)
        clients.append(client)
        return client

    for scope, kind, nodes, path in (("hv03", "standalone", ("hv03",), "S:\\"), ("hvclus01", "cluster", ("hv01", "hv02"), "S:\\SnapInfo")):
        client = factory(scope, None, None)
        client.call("registry_write", {"key": registry_key(kind, scope), "values": {"snapinfo_path": {"type": "String", "data": path}}})
        Catalog(HostRepository(client, path)).initialize(Scope(scope, kind, nodes, path, "C:\\SMHV\\Reports"))
    yield world, (lambda: Scopes({}, {}, client_factory=factory, clock=lambda: NOW)), clients
    executor.close()


def add_vm(world, host_name, name, folder, **fields):
    host = world.hosts[host_name]
    vm_id = "00000000-0000-4000-8000-%012d" % (len(host.vms) + 100)
    vhd = folder + "\\" + name + ".vhdx"
    host.write_file(world, vhd, new_vhdx(10 * GIB, {}))
    vm = VirtualMachine(id=vm_id, name=name, config_path="%s\\Virtual Machines\\%s.vmcx" % (folder, vm_id.upper()), vhd_paths=[vhd],
                        snapshot_location=folder, **fields)
    host.write_file(world, vm.config_path, json.dumps(vm.config_document()).encode())
    host.vms[vm.id] = vm
    return vm


def refused(open_scopes, host, members, name="ds1"):
    with open_scopes() as scopes, pytest.raises(SmhvError) as caught:
        ensure_dataset(scopes, None, host, name, members=members)
    return caught.value


def test_a_vm_off_ontap_is_refused_naming_the_file(site):
    world, open_scopes, _clients = site
    add_vm(world, "hv03", "vm-local", "C:\\VMs\\vm-local")
    error = refused(open_scopes, "hv03", [{"vm": "vm-file01"}, {"vm": "vm-local"}])
    assert error.code == "NOT_ON_ONTAP"
    assert error.message.startswith("Dataset ds1 cannot be saved: 2 problems. (1) VM vm-local (00000000-0000-4000-8000-000000000104) on hv03: "
                                    "config file C:\\VMs\\vm-local\\Virtual Machines\\")
    assert "is on disk 0 (serial " in error.message and "which is not an ONTAP LUN. A storage snapshot cannot include it; move the VM's " \
        "storage to an ONTAP LUN (Move-VMStorage) or remove the VM from the dataset." in error.message
    assert [problem["path"] for problem in error.details["problems"]][1] == "C:\\VMs\\vm-local\\vm-local.vhdx"


def test_dedicated_and_clustered_vms_of_one_cluster_are_refused(site):
    world, open_scopes, _clients = site
    add_vm(world, "hv01", "vm-dedicated", "C:\\ClusterStorage\\Volume1\\vm-dedicated")
    error = refused(open_scopes, "hvclus01", [{"vm": "vm-web01"}, {"vm": "vm-dedicated"}])
    assert error.code == "DATASET_MIXES_CLUSTERED"
    assert error.message == ("Dataset ds1 cannot be saved: 1 problem. (1) The dataset mixes clustered VMs (vm-web01) with dedicated VMs "
                             "(vm-dedicated) of hvclus01; backups of such a dataset fail. Put the dedicated VMs in a dataset of their own.")


def test_clustered_vms_and_a_standalone_hosts_vms_may_share_a_dataset(site):
    _world, open_scopes, _clients = site
    with open_scopes() as scopes:
        result = ensure_dataset(scopes, None, "hvclus01", "mixed", members=[{"vm": "vm-web01"}, {"vm": "vm-file01", "scope": "hv03"}])
    assert result["dataset"]["scopes"] == ["hv03", "hvclus01"] and result["warnings"] == []


def test_an_mbr_lun_under_a_csv_is_refused(site):
    world, open_scopes, _clients = site
    cluster = world.clusters["cluster-a"]
    csv1 = next(lun for lun in cluster.luns if lun.name == "csv1")
    csv1.content.partition_style = "MBR"
    error = refused(open_scopes, "hvclus01", [{"vm": "vm-web01"}])
    assert error.code == "MBR_LUN_ON_CSV"
    assert "VM vm-web01 (" in error.message and "is on CSV " in error.message and \
        "an MBR-partitioned LUN (serial %s); VMs on CSVs need GPT LUNs. Move the VM to a CSV on a GPT LUN." % csv1.serial in error.message


def test_pass_through_disks_are_a_warning(site):
    world, open_scopes, _clients = site
    vm = next(vm for vm in world.hosts["hv03"].vms.values() if vm.name == "vm-sql01")
    vm.passthrough_disks = [7]
    with open_scopes() as scopes:
        result = ensure_dataset(scopes, None, "hv03", "sql", members=[{"vm": "vm-sql01"}])
    assert result["changed"] is True
    assert len(result["warnings"]) == 1 and result["warnings"][0].startswith("VM vm-sql01 (")
    assert "pass-through disk 7 (serial unknown) at SCSI 0:1 is not in the backup; protect its data inside the guest" in result["warnings"][0]


def test_bad_names_and_unknown_or_ambiguous_vms(site):
    world, open_scopes, _clients = site
    error = refused(open_scopes, "hv03", [{"vm": "vm-file01"}], name="files!")
    assert error.code == "INVALID_ARGUMENT" and "contains '!'" in error.message
    error = refused(open_scopes, "hv03", [{"vm": "vm-nope"}])
    assert error.code == "VM_NOT_FOUND"
    assert error.message == ("No VM named 'vm-nope' in standalone hv03 (hosts searched: hv03). VMs there: vm-file01, vm-file02, vm-print01, "
                             "vm-sql01. Check the name, or give the member's scope.")
    add_vm(world, "hv03", "vm-file01", "J:\\twin")
    error = refused(open_scopes, "hv03", [{"vm": "VM-FILE01"}])
    assert error.code == "VM_AMBIGUOUS" and "name the member by its id instead" in error.message


def test_one_inventory_call_per_host_not_per_vm(site):
    _world, open_scopes, clients = site
    before = len(clients)
    with open_scopes() as scopes:
        ensure_dataset(scopes, None, "hvclus01", "app", members=[{"vm": name} for name in ("vm-app01", "vm-app02", "vm-db01", "vm-db02")])
    opened = clients[before:]
    assert sorted(client._host for client in opened) == ["hv01", "hv02"]  # pylint: disable=protected-access
    assert sum(client.calls.count("vm_inventory") for client in opened) == 2


def test_check_mode_plans_the_same_actions_and_writes_nothing(site):
    _world, open_scopes, _clients = site
    members = [{"vm": "vm-web01"}, {"vm": "vm-file02", "scope": "hv03"}]
    with open_scopes() as scopes:
        planned = ensure_dataset(scopes, None, "hvclus01", "web", members=members, check_mode=True)
        assert scopes.get("hv03").catalog.get_dataset("web") is None
    with open_scopes() as scopes:
        applied = ensure_dataset(scopes, None, "hvclus01", "web", members=members)
        again = ensure_dataset(scopes, None, "hv02", "web", members=members)
    assert planned["actions"] == applied["actions"] and len(applied["actions"]) == 2
    assert again["changed"] is False


@pytest.mark.parametrize("members, kind, name", [
    ([{"vm": " vm-file01"}], "VM name", " vm-file01"),
    ([{"vm": "vm-file01 "}], "VM name", "vm-file01 "),
    ([{"vm": "vm-file01", "scope": "hv03 "}], "scope name", "hv03 "),
])
def test_a_name_with_surrounding_blanks_is_refused_not_trimmed(site, members, kind, name):
    """Names are matched exactly: ' vm-file01' used to match vm-file01 as a dataset member while other lookups
    (the agent's vm_inventory, backup_info's filter) took it as it was."""
    _world, open_scopes, _clients = site
    error = refused(open_scopes, "hv03", members)
    assert error.code == "INVALID_ARGUMENT" and error.details == {"kind": kind, "name": name}
    assert error.message == "The %s %r starts or ends with a blank; names are matched exactly, so %s." % (
        kind, name, "remove them, or name the VM by its id" if kind == "VM name" else "remove them")


def test_a_vm_whose_name_differs_only_by_blanks_is_not_matched(site):
    world, open_scopes, _clients = site
    add_vm(world, "hv03", "vm-trailing ", "J:\\vm-trailing")
    error = refused(open_scopes, "hv03", [{"vm": "vm-trailing"}])
    assert error.code == "VM_NOT_FOUND" and "'vm-trailing'" in error.message


def test_backup_info_refuses_a_vm_filter_with_surrounding_blanks(site):
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.info import backup_info
    _world, open_scopes, _clients = site
    with open_scopes() as scopes, pytest.raises(SmhvError) as caught:
        backup_info(scopes, None, "hv03", vm="vm-file01 ", gather=["backups"])
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.details["name"] == "vm-file01 "
