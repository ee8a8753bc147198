"""The restore and mount ops over the world (Stop-/Start-/Remove-/Import-SmhvVm, Connect-/Disconnect-SmhvDisk
and Copy-SmhvFile in the agent).

vm_remove drops the registration and deletes the .vmcx, as Remove-VM does; the virtual disks stay.
vm_import reads the .vmcx (JSON here) back into a registration with the same id (Import-VM -Register);
`discard_checkpoint` applies and removes the backup's own checkpoint: its differencing disks are
dropped, so the VM is at the checkpoint. disk_connect brings a rescanned LUN online and gives a clone
that carries its source's disk id a new one (LunContent.resignature), as Set-Disk -Guid does; a folder
access path on C: is created first and stays after disk_disconnect (WindowsHost.folders) until file_delete.
A drive letter another online disk (or C:) has is refused (DRIVE_LETTER_IN_USE), as Windows refuses it;
assign_drive_letter gives the first free one from D:.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..world.windows import VirtualMachine, access_key, disk_chain, flush_guest_writes
from .context import AgentFailure, OpContext, argument, assert_absolute
from .host_ops import disk_rescan
from .storage_view import disk_records

LAB_SWITCH = "External"  # the switch every lab VM's one network adapter is on, unless a drill moved or disconnected it
_VM_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _ids(args: dict[str, Any]) -> list[str]:
    ids = argument(args, "ids", "StringList", required=True)
    for vm_id in ids:
        if not _VM_ID.fullmatch(vm_id):
            raise AgentFailure("BAD_REQUEST", f"Argument 'ids': '{vm_id}' is not a VM id (GUID).", {"argument": "ids"})
    return [vm_id.lower() for vm_id in ids]


def _power(ctx: OpContext, args: dict[str, Any], target: str) -> tuple[dict[str, Any], bool]:
    ids = _ids(args)
    turn_off = argument(args, "turn_off", "Boolean", False)
    vms, missing, changed = [], [], False
    for key in ids:
        vm = ctx.host.vms.get(key)
        if vm is None:
            missing.append(key)
            continue
        before = vm.state
        if before != target:
            changed = True
            if not ctx.check_mode:
                if target == "Off" and not turn_off and before == "Running":
                    flush_guest_writes(ctx.world, vm.id)  # a guest shut down flushes; a turn-off loses writes in flight
                if target == "Off":
                    vm.pending_writes = []
                vm.state = target
        vms.append({"vm_id": key, "name": vm.name, "state_before": before, "state": vm.state})
    return {"vms": vms, "missing": missing}, changed


def vm_stop(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    return _power(ctx, args, "Off")


def vm_start(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    return _power(ctx, args, "Running")


def vm_remove(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    removed, missing = [], []
    for key in _ids(args):
        vm = ctx.host.vms.get(key)
        if vm is None:
            missing.append(key)
            continue
        if vm.state != "Off":
            raise AgentFailure("VM_STATE_NOT_ALLOWED", f"VM '{vm.name}' is {vm.state}; stop it before removing it.",
                               {"vm_id": key, "state": vm.state})
        if not ctx.check_mode:
            del ctx.host.vms[key]
            tree, inner, _ = ctx.host.resolve(ctx.world, vm.config_path)
            if tree.exists(inner):
                tree.delete(inner)
        removed.append(key)
    return {"removed": removed, "missing": missing}, bool(removed)


def vm_import(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    path = argument(args, "path", "String", required=True)
    discard = argument(args, "discard_checkpoint", "String", "")
    map_from = argument(args, "map_from", "StringList", [])
    map_to = argument(args, "map_to", "StringList", [])
    new_name = argument(args, "new_name", "String", "")
    isolate = argument(args, "disconnect_network", "Boolean", False)
    switch = argument(args, "switch_name", "String", "")
    assert_absolute(path, "path")
    if len(map_from) != len(map_to):
        raise AgentFailure("BAD_REQUEST", "Arguments 'map_from' and 'map_to' must have the same length.", {"argument": "map_to"})
    if not ctx.host.file_exists(ctx.world, path):
        raise AgentFailure("FILE_NOT_FOUND", f"File '{path}' does not exist.", {"path": path})
    vm_id = path.rpartition("\\")[2].rsplit(".", 1)[0].lower()
    if vm_id in ctx.host.vms:
        raise AgentFailure("VM_EXISTS", f"A VM with id {vm_id} is already registered on host {ctx.computer_name}.",
                           {"vm_id": vm_id})
    if ctx.check_mode:
        return {"vm_id": vm_id, "name": "", "state": "Off", "checkpoint_discarded": False}, True
    vm = VirtualMachine.from_config(path, json.loads(ctx.host.read_file(ctx.world, path)), state="Off")
    if map_from:  # Compare-VM, Set-VMHardDiskDrive -Path and Set-VM -SnapshotFileLocation on the report, then Import-VM
        pairs = list(zip(map_from, map_to))
        vm.vhd_paths = [mapped_path(p, pairs) for p in vm.vhd_paths]
        vm.snapshot_location = mapped_path(vm.snapshot_location, pairs)
        for checkpoint in vm.checkpoints:
            checkpoint.differencing_disks = {mapped_path(k, pairs): mapped_path(v, pairs) for k, v in checkpoint.differencing_disks.items()}
    # Hyper-V refuses to register a VM whose current virtual disk (its newest checkpoint layer) is not there: the report
    # keeps the incompatibility, and Import-VM throws before anything is registered or written.
    missing = [top for top in (disk_chain(vm, base)[-1] for base in vm.vhd_paths) if not ctx.host.file_exists(ctx.world, top)]
    if missing:
        raise AgentFailure("AGENT_ERROR", "Unable to import virtual machine due to configuration errors. Please use Compare-VM to "
                           "repair the virtual machine.", {"op": "vm_import", "exception": "VirtualizationException",
                                                           "host": ctx.computer_name, "missing": missing})
    if map_from:
        ctx.host.write_file(ctx.world, path, json.dumps(vm.config_document(), sort_keys=True).encode())
    discarded = False
    for checkpoint in [c for c in vm.checkpoints if discard and c.name == discard]:
        for layer in checkpoint.differencing_disks.values():  # Restore-VMSnapshot, then Remove-VMSnapshot: nothing to merge
            tree, inner, _ = ctx.host.resolve(ctx.world, layer)
            if tree.exists(inner):
                tree.delete(inner)
        snapshot_config = f"{vm.snapshot_location.rstrip(chr(92))}\\Snapshots\\{checkpoint.id.upper()}.vmcx"
        tree, inner, _ = ctx.host.resolve(ctx.world, snapshot_config)
        if tree.exists(inner):
            tree.delete(inner)
        vm.checkpoints.remove(checkpoint)
        discarded = True
    if new_name:  # Rename-VM: the registration's name (and its configuration's)
        vm.name = new_name
    if discarded or new_name:
        ctx.host.write_file(ctx.world, path, json.dumps(vm.config_document(), sort_keys=True).encode())
    # Disconnect-VMNetworkAdapter on each adapter: the lab's VMs have one, on a switch unless a drill cut it off (kept on
    # the registration, as Hyper-V keeps it in the configuration).
    vm.network_switch = switch or ("" if isolate else LAB_SWITCH)
    ctx.host.vms[vm.id] = vm
    return {"vm_id": vm.id, "name": vm.name, "state": vm.state, "checkpoint_discarded": discarded}, True


def vm_import_batch(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """vm_import of each of `paths` in one call; the first failure ends it, the VMs imported before it stay."""
    paths = argument(args, "paths", "StringList", required=True)
    discards = argument(args, "discard_checkpoints", "StringList", [])
    if discards and len(discards) != len(paths):
        raise AgentFailure("BAD_REQUEST", "Arguments 'paths' and 'discard_checkpoints' must have the same length.",
                           {"argument": "discard_checkpoints"})
    shared = {"map_from": argument(args, "map_from", "StringList", []), "map_to": argument(args, "map_to", "StringList", [])}
    vms = [vm_import(ctx, dict(shared, path=path, discard_checkpoint=discards[index] if discards else None))[0]
           for index, path in enumerate(paths)]
    return {"vms": vms}, bool(vms)


def vm_health(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Get-SmhvVmHealth: state, the Heartbeat integration service's status while running ('OK'), network connection."""
    vms, missing = [], []
    for key in _ids(args):
        vm = ctx.host.vms.get(key)
        if vm is None:
            missing.append(key)
            continue
        beating = vm.state == "Running" and vm.integration_services.get("Heartbeat", False)
        switch = getattr(vm, "network_switch", LAB_SWITCH)
        vms.append({"vm_id": key, "name": vm.name, "state": vm.state, "heartbeat": "OK" if beating else None,
                    "network_connected": bool(switch), "switches": [switch] if switch else []})
    return {"vms": vms, "missing": missing}, False


def mapped_path(path: str, pairs: list[tuple[str, str]]) -> str:
    """ConvertTo-SmhvMappedPath: the longest matching prefix replaced, case-insensitively."""
    matches = [(old, new) for old, new in pairs if path.lower().startswith(old.lower())]
    if not matches:
        return path
    old, new = max(matches, key=lambda pair: len(pair[0]))
    return new + path[len(old):]


def _disk(ctx: OpContext, serial: str):
    disk = ctx.host.disks.get(serial)
    if disk is None:
        raise AgentFailure("DISK_NOT_FOUND", f"No disk with serial number '{serial}' on host {ctx.computer_name} after a "
                           "rescan; is the LUN mapped to its igroup?", {"serial": serial})
    return disk


def _record(ctx: OpContext, serial: str) -> dict[str, Any]:
    return next(r for r in disk_records(ctx.world, ctx.host) if r["serial"] == serial)


def _create_folder(ctx: OpContext, path: str) -> None:
    """[IO.Directory]::CreateDirectory of a mount folder on C: outside any LUN: the folder and its missing parents
    (WindowsHost.folders; a folder under a LUN's access path is not modelled)."""
    if ctx.host.online_disk_for(path) is not None:
        return
    folders = ctx.host.__dict__.setdefault("folders", set())
    known = {access_key(folder) for folder in folders}
    parts = path.rstrip("\\").split("\\")
    for depth in range(2, len(parts) + 1):
        folder = "\\".join(parts[:depth])
        if access_key(folder) not in known and not ctx.host.file_exists(ctx.world, folder):
            folders.add(folder)


def _drive_letter(access_path: str) -> str | None:
    """'K' for a drive-letter access path ('K:\\' or 'K:'), else None."""
    path = access_path.rstrip("\\")
    return path[0].upper() if len(path) == 2 and path[1] == ":" else None


def _letters_in_use(ctx: OpContext, disk) -> set[str]:
    """Drive letters other volumes have: C: (the system drive) and those of the other online disks (an offline disk's
    volume has no access path in the lab)."""
    used = {"C"}
    for other in ctx.host.disks.values():
        if other is not disk and other.online:
            used |= {letter for letter in map(_drive_letter, other.access_paths) if letter}
    return used


def _connect_drive_letter(ctx: OpContext, disk, access_path: str, assign: bool) -> bool:
    """Assert-SmhvDriveLetterFree, then Add-PartitionAccessPath -AccessPath 'X:\\' (the volume's other letter removed:
    it has one at most) or -AssignDriveLetter (the first free letter from D:, kept when it has one already)."""
    letters = [a for a in disk.access_paths if _drive_letter(a)]
    used = _letters_in_use(ctx, disk)
    if access_path:
        letter = _drive_letter(access_path)
        if letter in used:
            raise AgentFailure("DRIVE_LETTER_IN_USE", f"Drive letter {letter}: belongs to another volume on host {ctx.computer_name}; "
                               "choose a free letter, or let one be assigned.", {"drive_letter": letter})
        disk.access_paths = [a for a in disk.access_paths if not _drive_letter(a)] + [f"{letter}:\\"]
        return True
    if letters or not assign:
        return False
    free = [chr(code) for code in range(ord("D"), ord("Z") + 1) if chr(code) not in used]
    if not free:
        raise AgentFailure("DRIVE_LETTER_IN_USE", f"No drive letter is free on host {ctx.computer_name} for disk {disk.number}; "
                           "mount it in a folder instead.", {"serial": disk.serial})
    disk.access_paths.append(f"{free[0]}:\\")
    return True


def disk_connect(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    serial = argument(args, "serial", "String", required=True)
    access_path = argument(args, "access_path", "String", "")
    assign = argument(args, "assign_drive_letter", "Boolean", False)
    if access_path:
        assert_absolute(access_path, "access_path")
        access_path = access_path if access_path.endswith("\\") else access_path + "\\"
    if not ctx.check_mode:
        disk_rescan(ctx, {})
    disk = _disk(ctx, serial)
    changed, resignatured = False, False
    if not disk.online:
        changed = True
        _, lun = ctx.world.find_lun_by_serial(serial)
        others = [d for d in ctx.host.disks.values() if d is not disk and d.online]
        ids = set()
        for other in others:
            _, other_lun = ctx.world.find_lun_by_serial(other.serial)
            if other_lun is not None:
                ids.add(other_lun.content.disk_id)
        if not ctx.check_mode:
            if lun is not None and lun.content.disk_id in ids:
                lun.content.resignature()
                resignatured = True
            disk.online, disk.offline_reason = True, ""
    if disk.read_only:
        changed = True
        if not ctx.check_mode:
            disk.read_only = False
    present = bool(access_path) and access_key(access_path) in [access_key(a) for a in disk.access_paths]
    if access_path and not present and not ctx.check_mode and len(access_path) > 3:
        _create_folder(ctx, access_path)
        disk.access_paths.append(access_path.rstrip("\\"))
        changed = True
    if not ctx.check_mode and (assign or (access_path and not present and len(access_path) == 3)):
        changed = _connect_drive_letter(ctx, disk, access_path if not present and len(access_path) == 3 else "", assign) or changed
    return {"disk": _record(ctx, serial), "resignatured": resignatured}, changed


def disk_disconnect(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    serial = argument(args, "serial", "String", required=True)
    disk = ctx.host.disks.get(serial)
    if disk is None:
        return {"serial": serial, "found": False, "was_online": False, "removed_access_paths": []}, False
    was_online = disk.online
    removed = [a if a.endswith("\\") else a + "\\" for a in disk.access_paths] if was_online else []
    if was_online and not ctx.check_mode:
        disk.access_paths = []
        disk.online, disk.offline_reason = False, "Policy"
    return {"serial": serial, "found": True, "was_online": was_online, "removed_access_paths": removed}, was_online


def file_copy(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    sources = argument(args, "sources", "StringList", required=True)
    destinations = argument(args, "destinations", "StringList", required=True)
    if len(sources) != len(destinations):
        raise AgentFailure("BAD_REQUEST", "Arguments 'sources' and 'destinations' must have the same length.",
                           {"argument": "destinations"})
    copied = []
    for source, destination in zip(sources, destinations):
        assert_absolute(source, "sources")
        assert_absolute(destination, "destinations")
        if not ctx.host.file_exists(ctx.world, source):
            raise AgentFailure("FILE_NOT_FOUND", f"File '{source}' does not exist.", {"path": source})
        data = ctx.host.read_file(ctx.world, source)
        if not ctx.check_mode:
            ctx.host.write_file(ctx.world, destination, data)
        copied.append({"source": source, "destination": destination, "size": len(data)})
    return {"copied": copied}, bool(copied)


def cluster_vm_role_add(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Add-ClusterVirtualMachineRole: the VM gets a cluster group named after it, owned by this node."""
    ids = _ids(args)
    cluster = ctx.world.failover_clusters.get(ctx.host.cluster)
    if cluster is None:
        raise AgentFailure("AGENT_ERROR", f"Host {ctx.computer_name} is not a node of a failover cluster.",
                           {"op": "cluster_vm_role_add", "exception": "ClusterCmdletException"})
    added, present, missing = [], [], []
    for key in ids:
        vm = ctx.host.vms.get(key)
        if vm is None:
            missing.append(key)
        elif key in cluster.vm_roles:
            present.append(key)
        else:
            if not ctx.check_mode:
                cluster.vm_roles[key] = {"name": vm.name, "owner_node": ctx.host.name, "state": vm.state}
            added.append({"vm_id": key, "group": vm.name})
    return {"added": added, "present": present, "missing": missing}, bool(added)


def cluster_vm_role_remove(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Remove-ClusterGroup -RemoveResources: the VM's role goes, its registration stays."""
    ids = _ids(args)
    cluster = ctx.world.failover_clusters.get(ctx.host.cluster)
    removed, absent = [], []
    for key in ids:
        role = cluster.vm_roles.get(key) if cluster is not None else None
        if role is None:
            absent.append(key)
            continue
        if not ctx.check_mode:
            del cluster.vm_roles[key]
        removed.append({"vm_id": key, "group": role["name"]})
    return {"removed": removed, "absent": absent}, bool(removed)


OPS = {
    "vm_stop": vm_stop,
    "vm_start": vm_start,
    "vm_remove": vm_remove,
    "vm_import": vm_import,
    "vm_import_batch": vm_import_batch,
    "disk_connect": disk_connect,
    "disk_disconnect": disk_disconnect,
    "file_copy": file_copy,
    "cluster_vm_role_add": cluster_vm_role_add,
    "cluster_vm_role_remove": cluster_vm_role_remove,
    "vm_health": vm_health,
}
