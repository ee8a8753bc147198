"""The agent ops engines rely on, through HostClient against the lab's Hyper-V executor, both protocols.

These exercise the whole path a module takes: request encoding, bootstrap + stdin or the PSRP script,
the reply contract, and results of the shape agent.RESULT_SCHEMAS promises.
"""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

HOST = "hv1"


@pytest.fixture(params=["psrp", "winrm"])
def hyperv(request, connect):
    return connect(request.param, "ntlm-https")


def test_host_facts(hyperv):
    facts = hyperv.call("host_facts").result
    assert agent.validate_result("host_facts", facts) == []
    assert facts["computer_name"].lower() == HOST and facts["cluster"] is None


def test_vm_inventory_maps_every_file_to_its_lun(hyperv, world):
    inventory = hyperv.call("vm_inventory", {"names": ["VM-DB01", "vm-web01"]}).result
    assert agent.validate_result("vm_inventory", inventory) == []
    assert sorted(vm["name"] for vm in inventory["vms"]) == ["vm-db01", "vm-web01"]
    files = [f for vm in inventory["vms"] for f in vm["files"]]
    assert len(files) == 5  # two configurations and three VHDs
    lun_serial, = world.host(HOST).disks  # the host's one disk: LUN lun_j, keyed by its serial
    assert {(f["storage"]["access_path"], f["storage"]["disk_serial"], f["storage"]["netapp_lun"]) for f in files} == {("J:\\", lun_serial, True)}


def test_vm_not_found_is_the_agents_error(hyperv):
    with pytest.raises(SmhvError) as caught:
        hyperv.call("vm_inventory", {"names": ["no-such-vm"]})
    assert caught.value.code == "VM_NOT_FOUND"
    assert caught.value.details["names"] == ["no-such-vm"] and caught.value.details["host"] == HOST
