"""The lab's mount folders (disk_connect creates a folder access path on C: with its parents, as
[IO.Directory]::CreateDirectory does; Remove-PartitionAccessPath leaves it; file_delete removes it once empty),
a volume root's System Volume Information (listed, but a recursive listing is denied, as for an administrator on
Windows), and the administrator's changes the restore e2e tests set up (smhv_lab.vm_admin)."""
from __future__ import annotations

import pytest

from smhv_lab import vm_admin
from smhv_lab.world.windows import read_guest_data, write_guest_data


HOST = "hv1"  # tests/lab/hyperv/conftest.py's world
VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"


def clone_of_j(world, lun):
    cluster = world.clusters["cl1"]
    clone = cluster.clone_lun(lun.path, "/vol/vol1/lun_j_clone")
    cluster.map_lun(clone.path, "ig_hv1")
    return clone


def test_a_mount_folder_outlives_its_disk_until_deleted(call, world, lun):
    clone = clone_of_j(world, lun)
    folder = "C:\\SMHV\\Mounts\\b1\\lun_j"
    assert call("disk_connect", {"serial": clone.serial, "access_path": folder + "\\"})["ok"]
    host = world.hosts[HOST]
    assert sorted(host.folders) == ["C:\\SMHV", "C:\\SMHV\\Mounts", "C:\\SMHV\\Mounts\\b1", folder]
    refused = call("file_delete", {"paths": [folder]})  # a volume is mounted there
    assert not refused["ok"] and refused["error"]["code"] == "DIRECTORY_NOT_EMPTY"
    assert call("disk_disconnect", {"serial": clone.serial})["ok"]
    assert folder in host.folders  # Remove-PartitionAccessPath leaves the folder
    parent = call("file_delete", {"paths": ["C:\\SMHV\\Mounts\\b1"]})  # it still holds lun_j
    assert not parent["ok"] and parent["error"]["code"] == "DIRECTORY_NOT_EMPTY"
    deleted = call("file_delete", {"paths": [folder, "C:\\SMHV\\Mounts\\b1"]})
    assert deleted["ok"] and deleted["result"]["deleted"] == [folder, "C:\\SMHV\\Mounts\\b1"]
    assert sorted(host.folders) == ["C:\\SMHV", "C:\\SMHV\\Mounts"]
    again = call("file_delete", {"paths": [folder]})
    assert again["ok"] and again["result"]["missing"] == [folder]


def test_disk_changes_an_administrator_makes(world):
    host = world.hosts[HOST]
    vm = host.vms[VM1_ID]
    extra = "J:\\vm1\\Virtual Hard Disks\\extra.vhdx"
    vm_admin.vm_storage(world, {"vm": "vm1", "action": "add_disk", "path": extra})
    assert vm.vhd_paths[-1] == extra and host.file_exists(world, extra)
    write_guest_data(world, VM1_ID, "E:\\x.txt", "on the third disk")
    moved = "J:\\vm1\\Virtual Hard Disks\\renamed.vhdx"
    vm_admin.vm_storage(world, {"vm": "vm1", "action": "move_disk", "path": extra, "destination": moved})
    assert not host.file_exists(world, extra) and read_guest_data(world, VM1_ID, "E:\\x.txt") == ("on the third disk", True)
    vm_admin.vm_storage(world, {"vm": "vm1", "action": "remove_disk", "path": moved})
    assert moved not in vm.vhd_paths and host.file_exists(world, moved)  # detached, the file stays
    with pytest.raises(ValueError):
        vm_admin.vm_storage(world, {"vm": "vm1", "action": "remove_disk", "path": moved})


def test_locations_an_administrator_changes(world):
    host = world.hosts[HOST]
    vm = host.vms[VM1_ID]
    old_config = vm.config_path
    vm_admin.vm_storage(world, {"vm": "vm1", "action": "configuration_location", "path": "J:\\moved"})
    assert vm.config_path == "J:\\moved\\Virtual Machines\\%s.vmcx" % VM1_ID.upper()
    assert host.file_exists(world, vm.config_path) and not host.file_exists(world, old_config)
    vm_admin.vm_storage(world, {"vm": "vm1", "action": "snapshot_location", "path": "J:\\checkpoints\\"})
    assert vm.snapshot_location == "J:\\checkpoints"


def test_a_volume_moved_to_a_new_lun(world, lun):
    host = world.hosts[HOST]
    before = host.read_file(world, host.vms[VM1_ID].config_path)
    moved = vm_admin.volume_move(world, {"host": HOST, "access_path": "J:\\", "name": "lun_j_new"})
    assert moved["old"]["serial"] == lun.serial and lun.serial not in host.disks
    new = host.disks[moved["new"]["serial"]]
    assert new.access_paths == ["J:\\"] and host.read_file(world, host.vms[VM1_ID].config_path) == before
    cluster = world.clusters["cl1"]
    assert cluster.maps_of(lun) == [] and len(cluster.maps_of(cluster.lun_by_serial(new.serial))) == 1


def test_a_volume_root_shows_ntfs_system_folder_and_cannot_be_listed_recursively(call):
    top = call("file_list", {"path": "J:\\"})
    assert top["ok"] and [(e["name"], e["is_directory"]) for e in top["result"]["entries"]] == [
        ("System Volume Information", True), ("vm1", True)]
    denied = call("file_list", {"path": "J:\\", "recurse": True})
    assert not denied["ok"] and denied["error"]["code"] == "AGENT_ERROR" and "System Volume Information" in denied["error"]["message"]
    assert call("file_list", {"path": "J:\\vm1", "recurse": True})["ok"]
