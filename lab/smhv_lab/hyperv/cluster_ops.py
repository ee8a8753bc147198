"""cluster_disk_add over the world (Add-SmhvClusterDisk in the agent): a LUN every node of a failover cluster sees made a
cluster disk (Get-ClusterAvailableDisk | Add-ClusterDisk), then a cluster shared volume at the path asked for
(Add-ClusterSharedVolume, its C:\\ClusterStorage\\VolumeN folder renamed), or a cluster disk with a drive letter on
this node, its owner. cluster_disk_remove (Remove-SmhvClusterDisk) takes one out again: the CSV gone from the cluster,
the disk offline on every node.

As on Windows, the cluster offers only a disk every node has discovered (each node rescanned after the LUN was mapped
to its igroup): one a node does not see is DISK_NOT_FOUND naming the node. A CSV is online at the same path on every
node (Disk.is_csv); a cluster disk is online on its owner only and reserved on the other nodes, as the topology builds
hvclus01's SnapInfo disk. A disk already in the cluster is taken as it is (a re-run).
"""
from __future__ import annotations

from typing import Any

from ..world.windows import ClusterSharedVolume, access_key
from .context import AgentFailure, OpContext, argument, assert_absolute
from .host_ops import disk_rescan
from .restore_ops import _connect_drive_letter, _disk, _record

CSV_ROOT = "C:\\ClusterStorage\\"
RESERVED = "Reserved by the failover cluster"


def _failure(ctx: OpContext, message: str, exception: str, op: str = "cluster_disk_add") -> AgentFailure:
    return AgentFailure("AGENT_ERROR", message, {"op": op, "exception": exception, "host": ctx.computer_name})


def _node_disks(ctx: OpContext, cluster, serial: str) -> dict[str, Any]:
    """{node: its Disk for `serial`}; a node that has not discovered the LUN fails the call."""
    disks, missing = {}, []
    for name in cluster.nodes:
        disk = ctx.world.hosts[name].disks.get(serial)
        if disk is None:
            missing.append(name)
        else:
            disks[name] = disk
    if missing:
        raise AgentFailure("DISK_NOT_FOUND", f"The disk with serial number '{serial}' is not available to cluster {cluster.name}: "
                           f"node(s) {', '.join(missing)} do not see it. Map the LUN to every node's igroup and rescan them.",
                           {"serial": serial, "nodes_without_disk": missing})
    return disks


def cluster_disk_add(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    serial = argument(args, "serial", "String", required=True)
    access_path = argument(args, "access_path", "String", required=True)
    csv = argument(args, "csv", "Boolean", False)
    assert_absolute(access_path, "access_path")
    access_path = access_path.rstrip("\\") + "\\"
    folder = access_path[len(CSV_ROOT):].rstrip("\\")
    if csv and (not access_path.lower().startswith(CSV_ROOT.lower()) or not folder or "\\" in folder):
        raise AgentFailure("BAD_REQUEST", f"Argument 'access_path': a cluster shared volume is at {CSV_ROOT}<folder>, not "
                           f"'{access_path}'.", {"argument": "access_path"})
    if not csv and len(access_path) != 3:
        raise AgentFailure("BAD_REQUEST", f"Argument 'access_path': a cluster disk gets a drive letter 'X:\\', not '{access_path}'.",
                           {"argument": "access_path"})
    cluster = ctx.world.failover_clusters.get(ctx.host.cluster)
    if cluster is None:
        raise _failure(ctx, f"Host {ctx.computer_name} is not a node of a failover cluster.", "ClusterCmdletException")
    if not ctx.check_mode:
        disk_rescan(ctx, {})
    _disk(ctx, serial)
    disks = _node_disks(ctx, cluster, serial)
    existing = next((c for c in cluster.csvs if c.serial == serial), None)
    reserved = [d for n, d in disks.items() if n != ctx.host.name and not d.online and d.offline_reason == RESERVED]
    if existing is not None or (reserved and len(reserved) == len(disks) - 1):
        return _present(ctx, cluster, serial, existing, access_path, csv)
    if csv:
        taken = next((c for c in cluster.csvs if access_key(c.path) == access_key(access_path)), None)
        if taken is not None:
            raise _failure(ctx, f"Cannot create a file when that file already exists: '{access_path.rstrip(chr(92))}' is cluster shared "
                           f"volume {taken.name}.", "IOException")
    if not ctx.check_mode:
        if csv:
            cluster.csvs.append(ClusterSharedVolume(name=f"Cluster Disk {len(cluster.csvs) + 1}", path=access_path.rstrip("\\"),
                                                    serial=serial, owner_node=ctx.host.name))
            for disk in disks.values():
                disk.online, disk.offline_reason, disk.read_only, disk.is_csv = True, "", False, True
                disk.access_paths = [access_path]
        else:
            for name, disk in disks.items():
                if name != ctx.host.name:
                    disk.online, disk.offline_reason, disk.access_paths = False, RESERVED, []
            owned = disks[ctx.host.name]
            owned.online, owned.offline_reason, owned.read_only = True, "", False
            _connect_drive_letter(ctx, owned, access_path, False)
    return _result(ctx, serial, access_path, csv), True


def _present(ctx: OpContext, cluster, serial: str, existing, access_path: str, csv: bool) -> tuple[dict[str, Any], bool]:
    """A disk in the cluster already: the same kind at the same path is a no-op, anything else a refusal."""
    where = existing.path + "\\" if existing is not None else next(iter(ctx.host.disks[serial].access_paths), "")
    if (existing is not None) != csv or access_key(where or "x:") != access_key(access_path):
        raise _failure(ctx, f"The disk with serial number '{serial}' is a cluster {'shared volume' if existing else 'disk'} of "
                       f"{cluster.name} at '{where}' already.", "ClusterCmdletException")
    return _result(ctx, serial, access_path, csv), False


def _result(ctx: OpContext, serial: str, access_path: str, csv: bool) -> dict[str, Any]:
    cluster = ctx.world.failover_clusters[ctx.host.cluster]
    resource = next((c.name for c in cluster.csvs if c.serial == serial), f"Cluster Disk ({serial})")
    return {"disk": _record(ctx, serial), "resource": resource, "csv": csv, "access_path": access_path}


def cluster_disk_remove(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Remove-ClusterSharedVolume (a CSV), then Remove-ClusterResource -Force: the disk offline on every node ("Policy", as
    a disk no cluster holds comes up on a SAN), its access paths gone. A disk the cluster does not hold is no change."""
    serial = argument(args, "serial", "String", required=True)
    cluster = ctx.world.failover_clusters.get(ctx.host.cluster)
    if cluster is None:
        raise _failure(ctx, f"Host {ctx.computer_name} is not a node of a failover cluster.", "ClusterCmdletException", "cluster_disk_remove")
    disks = {name: ctx.world.hosts[name].disks[serial] for name in cluster.nodes if serial in ctx.world.hosts[name].disks}
    existing = next((c for c in cluster.csvs if c.serial == serial), None)
    reserved = [d for n, d in disks.items() if n != ctx.host.name and not d.online and d.offline_reason == RESERVED]
    if serial not in ctx.host.disks or (existing is None and not reserved):
        return {"serial": serial, "found": False, "resource": "", "csv": False}, False
    resource = existing.name if existing is not None else f"Cluster Disk ({serial})"
    if not ctx.check_mode:
        if existing is not None:
            cluster.csvs.remove(existing)
        for disk in disks.values():
            disk.online, disk.offline_reason, disk.access_paths, disk.is_csv = False, "Policy", [], False
    return {"serial": serial, "found": True, "resource": resource, "csv": existing is not None}, True


OPS = {"cluster_disk_add": cluster_disk_add, "cluster_disk_remove": cluster_disk_remove}
