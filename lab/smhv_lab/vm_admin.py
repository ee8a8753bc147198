"""What an administrator does to a VM's storage between two backups, for the control API (POST /vm-storage,
POST /volume-move). Tests use it to set up the conditions SMHV's restore warnings are about.

Each action follows the Hyper-V (or SAN) operation it stands for:

    add_disk                New-VHD, then Add-VMHardDiskDrive (a running generation 2 VM takes SCSI disks hot)
    remove_disk             Remove-VMHardDiskDrive: the disk is detached, its file stays
    move_disk               Move-VMStorage -VHDs: the file moves (live), the VM points at the new path
    snapshot_location       Set-VM -SnapshotFileLocation (refused while the VM has checkpoints, as in Hyper-V Manager)
    configuration_location  Move-VMStorage -VirtualMachinePath: the VM's configuration files move to
                            `<path>\\Virtual Machines\\`; checkpoint and virtual disk files stay
    volume_move             a drive moved to a new LUN: a new LUN in a volume of the same cluster, formatted (new disk
                            id and volume GUID), the files copied, the old LUN unmapped from the host and the new one
                            given the old one's access paths (robocopy and a drive letter swap)
"""
from __future__ import annotations

import json
from typing import Any

from .world_view import find_vm
from .world import LunContent
from .world.windows import Disk, new_vhdx, read_vhdx, split_drive

GIB = 1024 ** 3
ACTIONS = ("add_disk", "remove_disk", "move_disk", "snapshot_location", "configuration_location")


def _key(path: str) -> str:
    return path.lower().rstrip("\\")


def _save_config(world, host, vm) -> None:
    host.write_file(world, vm.config_path, json.dumps(vm.config_document(), sort_keys=True).encode())


def _no_checkpoints(vm, what: str) -> None:
    if vm.checkpoints:
        raise ValueError(f"VM {vm.name} has checkpoints ({', '.join(c.name for c in vm.checkpoints)}); "
                         f"the lab does not {what} while it has any")


def vm_storage(world, body: dict[str, Any]) -> dict[str, Any]:
    host, vm = find_vm(world, body["vm"])
    action = body["action"]
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    if action == "add_disk":
        path = body["path"]
        split_drive(path)
        if host.file_exists(world, path):
            raise ValueError(f"New-VHD: the file '{path}' already exists")
        host.write_file(world, path, new_vhdx(int(body.get("size_gib", 10)) * GIB))
        vm.vhd_paths.append(path)
    elif action == "remove_disk":
        path = body["path"]
        if _key(path) not in [_key(p) for p in vm.vhd_paths]:
            raise ValueError(f"VM {vm.name} has no virtual disk '{path}'")
        _no_checkpoints(vm, "detach a disk")
        vm.vhd_paths = [p for p in vm.vhd_paths if _key(p) != _key(path)]
    elif action == "move_disk":
        path, destination = body["path"], body["destination"]
        if _key(path) not in [_key(p) for p in vm.vhd_paths]:
            raise ValueError(f"VM {vm.name} has no virtual disk '{path}'")
        _no_checkpoints(vm, "move a disk")
        if host.file_exists(world, destination):
            raise ValueError(f"Move-VMStorage: the file '{destination}' already exists")
        data = host.read_file(world, path)
        read_vhdx(data)
        host.write_file(world, destination, data)
        tree, inner, _ = host.resolve(world, path)
        tree.delete(inner)
        vm.vhd_paths = [destination if _key(p) == _key(path) else p for p in vm.vhd_paths]
    elif action == "snapshot_location":
        split_drive(body["path"])
        _no_checkpoints(vm, "change the checkpoint file location")
        vm.snapshot_location = body["path"].rstrip("\\")
    else:  # configuration_location
        folder = body["path"].rstrip("\\") + "\\Virtual Machines"
        split_drive(folder)
        source_folder = vm.config_path.rpartition("\\")[0]
        tree, inner, _ = host.resolve(world, source_folder)
        moved = [name for name in tree.listing(inner) if name.rpartition("\\")[2].lower().startswith(vm.id.lower() + ".")]
        for name in moved:
            file_name = name.rpartition("\\")[2]
            host.write_file(world, folder + "\\" + file_name, tree.read(name))
            tree.delete(name)
        vm.config_path = folder + "\\" + vm.id.upper() + ".vmcx"
    _save_config(world, host, vm)
    return {"vm": vm.id, "host": host.name, "config_path": vm.config_path, "vhd_paths": list(vm.vhd_paths),
            "snapshot_location": vm.snapshot_location}


def volume_move(world, body: dict[str, Any]) -> dict[str, Any]:
    """The volume at `access_path` on `host` moves to a new LUN `name` in `volume` (default the old LUN's)."""
    host = world.host(body["host"])
    access = body["access_path"]
    disk = host.online_disk_for(access)
    if disk is None or _key(access) not in [_key(a) for a in disk.access_paths]:
        raise ValueError(f"no online disk has the access path {access!r} on {host.name}")
    cluster, old = world.find_lun_by_serial(disk.serial)
    content = LunContent(partition_style=old.content.partition_style, label=old.content.label)
    for path, data in old.content.files.items():
        content.files.write(path, data)
    new = cluster.create_lun(body.get("volume") or old.volume.name, body["name"], old.size, os_type=old.os_type,
                             content=content, svm=old.volume.svm.name)
    for mapping in list(cluster.maps_of(old)):
        if host.iscsi_iqn.lower() in (i.lower() for i in mapping.igroup.initiators):
            cluster.unmap(mapping)
            cluster.map(new, mapping.igroup)
    del host.disks[old.serial]
    host.disks[new.serial] = Disk(number=host.next_disk_number(), serial=new.serial, cluster=cluster.name,
                                  lun_path=new.path, access_paths=list(disk.access_paths))
    return {"host": host.name, "access_paths": list(disk.access_paths), "old": {"lun": old.path, "serial": old.serial},
            "new": {"lun": new.path, "serial": new.serial}}

