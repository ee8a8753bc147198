"""The lab's vm_import_batch: vm_import of several configurations in one call, as a failover to a DR cluster registers
every VM on the owner node; the first failure ends the call and the VMs registered before it stay registered."""
from __future__ import annotations

VM2_ID = "1a2b3c4d-0000-4000-8000-00000000abcd"


def test_several_vms_in_one_call_and_the_first_failure_ends_it(call, world, add_vm):
    vm1 = world.hosts["hv1"].vms["0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"]
    vm2 = add_vm("vm2", VM2_ID, "J:\\vm2")
    configs = [vm1.config_path, vm2.config_path]
    for vm in (vm1, vm2):  # unregistered, their configuration kept beside the disks (a copy: Remove-VM deletes it)
        data = world.hosts["hv1"].read_file(world, vm.config_path)
        assert call("vm_stop", {"ids": [vm.id], "turn_off": True})["ok"] and call("vm_remove", {"ids": [vm.id]})["ok"]
        world.hosts["hv1"].write_file(world, vm.config_path, data)
    missing = "J:\\vm3\\Virtual Machines\\3A2B3C4D-0000-4000-8000-00000000ABCD.vmcx"
    failed = call("vm_import_batch", {"paths": [configs[0], missing, configs[1]], "discard_checkpoints": ["", "", ""]})
    assert not failed["ok"] and failed["error"]["code"] == "FILE_NOT_FOUND"
    assert sorted(world.hosts["hv1"].vms) == [vm1.id]  # the first stays registered, the third was not reached
    done = call("vm_import_batch", {"paths": [configs[1]], "map_from": ["J:\\"], "map_to": ["J:\\"]})
    assert done["ok"] and done["changed"] and [vm["vm_id"] for vm in done["result"]["vms"]] == [VM2_ID]
    again = call("vm_import_batch", {"paths": configs})
    assert not again["ok"] and again["error"]["code"] == "VM_EXISTS"
    uneven = call("vm_import_batch", {"paths": configs, "discard_checkpoints": [""]})
    assert not uneven["ok"] and uneven["error"]["code"] == "BAD_REQUEST"


def test_a_vm_whose_virtual_disk_is_not_there_is_refused_and_nothing_is_written(call, world, add_vm):
    """Import-VM keeps the compatibility report's 'virtual hard disk not found' and throws: a path map that sends the disks
    where no file is (a standalone DR host's LUN at another folder than the map says) registers nothing."""
    host = world.hosts["hv1"]
    vm = add_vm("vm2", VM2_ID, "J:\\vm2")
    data = host.read_file(world, vm.config_path)
    assert call("vm_stop", {"ids": [vm.id], "turn_off": True})["ok"] and call("vm_remove", {"ids": [vm.id]})["ok"]
    host.write_file(world, vm.config_path, data)
    wrong = call("vm_import_batch", {"paths": [vm.config_path], "map_from": ["J:\\"], "map_to": ["J:\\elsewhere\\"]})
    assert not wrong["ok"] and wrong["error"]["code"] == "AGENT_ERROR" and "Compare-VM" in wrong["error"]["message"]
    assert wrong["error"]["details"]["missing"] == ["J:\\elsewhere\\" + vm.vhd_paths[0][len("J:\\"):]]
    assert VM2_ID not in host.vms and host.read_file(world, vm.config_path) == data
    right = call("vm_import_batch", {"paths": [vm.config_path], "map_from": ["J:\\"], "map_to": ["J:\\"]})
    assert right["ok"] and [item["vm_id"] for item in right["result"]["vms"]] == [VM2_ID]
