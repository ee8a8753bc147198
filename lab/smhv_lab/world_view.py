"""Read and poke the world for the control API: summaries, guest data, VM runtime state."""
from __future__ import annotations

from typing import Any

from .world.windows import VM_STATES, access_key, read_guest_data, read_vhdx, split_drive, write_guest_data


def find_vm(world, name_or_id: str):
    """(host, vm) for a VM name or id registered anywhere in the lab."""
    key = name_or_id.lower()
    matches = [(host, vm) for host in world.hosts.values() for vm in host.vms.values()
               if vm.id.lower() == key or vm.name.lower() == key]
    if not matches:
        raise KeyError(f"no VM named or with id {name_or_id!r} is registered on any lab host")
    if len(matches) > 1:
        raise ValueError(f"{len(matches)} VMs are named {name_or_id!r}; use the VM id")
    return matches[0]


def write_guest(world, vm: str, path: str, data: str, in_flight: bool) -> dict[str, Any]:
    _, machine = find_vm(world, vm)
    write_guest_data(world, machine.id, path, data, in_flight)
    return {"vm": machine.id, "path": path, "in_flight": in_flight}


def read_guest(world, vm: str, path: str) -> dict[str, Any]:
    _, machine = find_vm(world, vm)
    data, complete = read_guest_data(world, machine.id, path)
    return {"vm": machine.id, "path": path, "data": data, "complete": complete}


def read_guest_in_snapshot(world, vm: str, path: str, snapshot: str) -> dict[str, Any]:
    """A guest file as an ONTAP snapshot holds it: the VM's base virtual disk for the guest drive, read from
    the image of its LUN in `snapshot` of the LUN's volume (checkpoint layers are not looked through: a
    backup's consistent state is the base disk the checkpoint froze)."""
    host, machine = find_vm(world, vm)
    drive, inner = split_drive(path)
    index = ord(drive[0]) - ord("c")
    if not 0 <= index < len(machine.vhd_paths):
        raise ValueError(f"VM {machine.name} has no guest drive {drive.upper()}")
    vhdx = machine.vhd_paths[index]
    disk = host.online_disk_for(vhdx)
    cluster, lun = world.find_lun_by_serial(disk.serial) if disk is not None else (None, None)
    if lun is None:
        raise KeyError(f"{vhdx} is not on a LUN")
    access = max((a for a in disk.access_paths if access_key(vhdx).startswith(access_key(a))), key=len)
    if not lun.volume.has_snapshot(snapshot):
        raise KeyError(f"volume {lun.volume.name} has no snapshot {snapshot!r}")
    image = lun.volume.snapshot(snapshot).luns[lun.name]
    document = read_vhdx(image.content.files.read(split_drive(vhdx)[1][len(split_drive(access)[1]):]))
    found = next((record for key, record in document["guest_files"].items() if key.lower() == inner.lower()), None)
    return {"vm": machine.id, "path": path, "cluster": cluster.name, "volume": lun.volume.name, "snapshot": snapshot,
            "vhdx": vhdx, "data": found["data"] if found else None, "complete": bool(found["complete"]) if found else None}


def set_vm_runtime(world, vm: str, state: str | None, migration: str | None,
                   ip_addresses: list[str] | None = None) -> dict[str, Any]:
    host, machine = find_vm(world, vm)
    if ip_addresses is not None:  # what the guest's network adapters have (127.0.0.1 makes it the controller's VM)
        machine.ip_addresses = [str(address) for address in ip_addresses]
    if state is not None:
        if state not in VM_STATES:
            raise ValueError(f"state must be one of {', '.join(VM_STATES)}")
        machine.state = state
        for fc in world.failover_clusters.values():
            if machine.id in fc.vm_roles:
                fc.vm_roles[machine.id]["state"] = state
    if migration is not None:
        if migration not in ("", "live", "storage"):
            raise ValueError("migration must be '', 'live' or 'storage'")
        machine.migration = migration
    return {"vm": machine.id, "host": host.name, "state": machine.state, "migration": machine.migration,
            "ip_addresses": list(getattr(machine, "ip_addresses", []))}


def delete_vm(world, vm: str) -> dict[str, Any]:
    """What an administrator does to lose a VM: turn it off (writes in flight are lost), remove its cluster
    role (Remove-ClusterGroup -RemoveResources) and its registration (Remove-VM, which deletes the
    configuration file); the virtual disks stay where they are."""
    host, machine = find_vm(world, vm)
    machine.state = "Off"
    machine.pending_writes = []
    for fc in world.failover_clusters.values():
        fc.vm_roles.pop(machine.id, None)
    del host.vms[machine.id]
    tree, inner, _ = host.resolve(world, machine.config_path)
    if tree.exists(inner):
        tree.delete(inner)
    return {"vm": machine.id, "name": machine.name, "host": host.name, "deleted": True}


def world_state(world) -> dict[str, Any]:
    return {
        "ontap": {name: _cluster_state(cluster) for name, cluster in world.clusters.items()},
        "hosts": {name: _host_state(world, host) for name, host in world.hosts.items()},
        "failover_clusters": {name: {"nodes": fc.nodes, "owner_node": fc.owner_node,
                                     "csvs": [vars(c) for c in fc.csvs], "vm_roles": fc.vm_roles}
                              for name, fc in world.failover_clusters.items()},
    }


def _cluster_state(cluster) -> dict[str, Any]:
    return {
        "version": cluster.version, "site": cluster.site,
        "volumes": {vol.name: {"svm": vol.svm.name, "type": vol.type, "snapshots": [s.name for s in vol.snapshots],
                               "luns": {lun.path: {"serial": lun.serial, "size": lun.size,
                                                   "files": lun.content.files.listing()}
                                        for lun in vol.luns.values()}}
                    for vol in cluster.volumes.values()},
        "igroups": {g.name: g.initiators for g in cluster.igroups.values()},
        "lun_maps": [{"lun": m.lun.path, "igroup": m.igroup.name, "lun_id": m.lun_id} for m in cluster.lun_maps],
        "snapmirrors": [{"source": f"{r.source_cluster.name}:{r.source.svm.name}:{r.source.name}",
                         "destination": f"{r.destination.svm.name}:{r.destination.name}", "state": r.state,
                         "policy": r.policy, "exported_snapshot": r.exported_snapshot}
                        for r in cluster.relationships.values()],
    }


def _host_state(world, host) -> dict[str, Any]:
    return {
        "cluster": host.cluster, "site": host.site, "os": host.os_name, "build": f"{host.os_version}.{host.ubr}",
        "hotfixes": sorted(host.hotfixes), "iqn": host.iscsi_iqn,
        "firewall_rules": host.firewall_rules,
        "disks": [{"number": d.number, "serial": d.serial, "lun": f"{d.cluster}:{d.lun_path}", "online": d.online,
                   "access_paths": d.access_paths, "is_csv": d.is_csv, "offline_reason": d.offline_reason}
                  for d in sorted(host.disks.values(), key=lambda d: d.number)],
        "folders": sorted(getattr(host, "folders", ())),
        "vms": [{"id": vm.id, "name": vm.name, "state": vm.state, "migration": vm.migration,
                 "config_path": vm.config_path, "vhd_paths": vm.vhd_paths,
                 "checkpoints": [c.name for c in vm.checkpoints]}
                for vm in sorted(host.vms.values(), key=lambda v: v.name)],
    }


def storage_objects(world) -> dict[str, Any]:
    """What the collection can leave on ONTAP, per cluster, with the fields leftovers are told by: every volume's
    snapshots (name, uuid, comment), its LUNs (serial, the snapshot a clone was made from), the consistency groups, the
    LUN maps and igroups."""
    return {name: {
        "volumes": {vol.name: {"uuid": vol.uuid, "svm": vol.svm.name, "type": vol.type,
                               "snapshots": [{"name": s.name, "uuid": s.uuid, "comment": s.comment,
                                              "create_time": s.create_time.isoformat()} for s in vol.snapshots],
                               "luns": [{"path": lun.path, "serial": lun.serial,
                                         "clone_of": lun.clone_source_path or None,
                                         "clone_snapshot": lun.clone_source.name if lun.clone_source else None}
                                        for lun in vol.luns.values()]}
                    for vol in cluster.volumes.values()},
        "consistency_groups": [{"name": cg.name, "uuid": cg.uuid, "volumes": [v.name for v in cg.volumes],
                                "snapshots": [s.name for s in cg.snapshots]}
                               for cg in cluster.consistency_groups.values()],
        "lun_maps": [{"lun": m.lun.path, "igroup": m.igroup.name, "lun_id": m.lun_id} for m in cluster.lun_maps],
        "igroups": {g.name: list(g.initiators) for g in cluster.igroups.values()},
    } for name, cluster in world.clusters.items()}


def host_files(world, host_name: str, path: str) -> dict[str, Any]:
    """Every file below a folder of a host (a LUN's volume through the host's disk, or its system drive), as text:
    what the host itself would read there, without going through WinRM or the agent."""
    host = world.host(host_name)
    tree, inner, disk = host.resolve(world, path.rstrip("\\") + "\\")
    files = {}
    for name in tree.listing(inner):
        relative = name[len(inner) + 1:] if inner else name
        files[relative.replace("\\", "/")] = tree.read(name).decode("utf-8", "replace")
    return {"host": host.name, "path": path, "disk": disk.serial if disk is not None else None, "files": files}
