"""vm_inventory over the world (Get-SmhvVmInventory / Get-SmhvVmRecord in the agent)."""
from __future__ import annotations

from typing import Any

from ..world.windows import disk_chain
from .context import AgentFailure, OpContext, argument
from .storage_view import path_storage

_MIB = 1024 ** 2
_MIGRATION_STATUS = {"live": "MigratingVirtualMachine", "storage": "StorageMigrationPhaseOne"}


def _prefixed_files(ctx: OpContext, directory: str, prefix: str) -> list[str]:
    """Files '<prefix>.*' directly in `directory` (Get-ChildItem -Filter '<prefix>.*' -File)."""
    try:
        tree, inner, _ = ctx.host.resolve(ctx.world, directory)
    except (FileNotFoundError, ValueError):
        return []
    found = []
    for name in tree.listing(inner):
        relative = name[len(inner) + 1:] if inner else name
        if "\\" not in relative and relative.lower().startswith(prefix.lower() + "."):
            found.append(directory.rstrip("\\") + "\\" + relative)
    return sorted(found, key=str.upper)


def _file(ctx: OpContext, path: str, kind: str) -> dict[str, Any]:
    return {"path": path, "kind": kind, "storage": path_storage(ctx.world, ctx.host, path)}


def _vm_record(ctx: OpContext, vm) -> dict[str, Any]:
    host, world = ctx.host, ctx.world
    config_directory = vm.config_path.rpartition("\\")[0]
    files, config_path = [], None
    for path in _prefixed_files(ctx, config_directory, vm.id):
        files.append(_file(ctx, path, "config"))
        if config_path is None and path.lower().endswith((".vmcx", ".xml")):
            config_path = path
    hard_disks = []
    for index, base in enumerate(vm.vhd_paths):
        chain = disk_chain(vm, base)
        parents = chain[-2::-1]
        if not host.file_exists(world, chain[-1]):
            ctx.warnings.append(f"VM '{vm.name}': cannot read virtual disk '{chain[-1]}': "
                                f"Could not find file '{chain[-1]}'.")
            parents = []
        controller = ("SCSI", 0, index) if vm.generation == 2 else ("IDE", index // 2, index % 2)
        hard_disks.append({"path": chain[-1], "controller_type": controller[0], "controller_number": controller[1],
                           "controller_location": controller[2], "parent_paths": parents})
        files += [_file(ctx, path, "vhd") for path in [chain[-1], *parents]]
    by_number = {d.number: d for d in host.disks.values()}
    passthrough = [{"disk_number": number, "disk_serial": by_number[number].serial if number in by_number else None,
                    "controller_type": "SCSI", "controller_number": 0,
                    "controller_location": len(vm.vhd_paths) + offset}
                   for offset, number in enumerate(vm.passthrough_disks)]
    checkpoints = []
    for checkpoint in vm.checkpoints:
        checkpoints.append({"id": checkpoint.id, "name": checkpoint.name, "created": checkpoint.created})
        snapshots = vm.snapshot_location.rstrip("\\") + "\\Snapshots"
        files += [_file(ctx, path, "checkpoint_config") for path in _prefixed_files(ctx, snapshots, checkpoint.id)]
    cluster = world.failover_clusters.get(host.cluster)
    role = cluster.vm_roles.get(vm.id) if cluster else None
    status = ["Ok"] + ([_MIGRATION_STATUS[vm.migration]] if vm.migration in _MIGRATION_STATUS else [])
    return {
        "id": vm.id,
        "name": vm.name,
        "host": host.name,
        "state": vm.state,
        "generation": vm.generation,
        "clustered": role is not None,
        "cluster_group": role["name"] if role else None,
        "owner_node": role["owner_node"] if role else host.name,
        "configuration_location": config_directory.rpartition("\\")[0],
        "config_path": config_path,
        "snapshot_location": vm.snapshot_location,
        "checkpoint_type": vm.checkpoint_type,
        "processor_count": vm.processor_count,
        "memory_startup_bytes": vm.memory_mb * _MIB,
        "operational_status": status,
        "migration": vm.migration if vm.migration in _MIGRATION_STATUS else "",
        "backup_integration_enabled": vm.integration_services.get("Backup (volume shadow copy)"),
        "hard_disks": hard_disks,
        "passthrough_disks": passthrough,
        "fibre_channel_hbas": [dict(hba) for hba in vm.fibre_channel_hbas],
        # Hyper-V learns a guest's addresses from its integration services: none while the VM does not run.
        "ip_addresses": list(getattr(vm, "ip_addresses", [])) if vm.state == "Running" else [],
        "checkpoints": checkpoints,
        "files": files,
    }


def vm_inventory(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    names = argument(args, "names", "StringList", [])
    ids = argument(args, "ids", "StringList", [])
    require_all = argument(args, "require_all", "Boolean", True)
    every = sorted(ctx.host.vms.values(), key=lambda vm: vm.name.upper())
    selected, missing_names, missing_ids = [], [], []
    if not names and not ids:
        selected = list(every)
    for name in names:  # exact (case-insensitive) names: never wildcards
        found = [vm for vm in every if vm.name.lower() == name.lower()]
        missing_names += [] if found else [name]
        selected += [vm for vm in found if vm not in selected]
    for vm_id in ids:
        found = [vm for vm in every if vm.id.lower() == vm_id.lower()]
        missing_ids += [] if found else [vm_id]
        selected += [vm for vm in found if vm not in selected]
    if require_all and (missing_names or missing_ids):
        raise AgentFailure("VM_NOT_FOUND", "No virtual machine on host {0} matches: {1}.".format(
            ctx.computer_name, ", ".join(missing_names + missing_ids)), {"names": missing_names, "ids": missing_ids})
    result = {"vms": [_vm_record(ctx, vm) for vm in selected], "missing": {"names": missing_names, "ids": missing_ids}}
    return result, False
