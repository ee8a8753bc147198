"""Build a World from a topology file (lab/smhv_lab/topologies/default.yml is the reference).

The loader does what an administrator would have done on a real site: create the volumes and LUNs,
put each host's IQN in an igroup, map and connect the LUNs (drive letters, SnapInfo disks, CSVs),
create the VMs on them and initialize the SnapMirror relationships, so a fresh lab looks like a
site that has been running for a while.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import yaml

from .hyperv import timing as hyperv_timing
from .ontap import jobs as ontap_jobs
from .world import FileTree, LunContent, World
from .world.storage import StorageCluster
from .world.windows import (ClusterSharedVolume, Disk, FailoverCluster, VirtualMachine, WindowsHost,
                            new_vhdx)

GIB = 1024 ** 3
DEFAULT_TOPOLOGY = Path(__file__).parent / "topologies" / "default.yml"
VM_NAMESPACE = uuid.UUID("6f1c7bb2-58b1-4cf1-9d7e-3a0d0f4c2a11")  # stable VM ids across lab rebuilds


class TopologyError(ValueError):
    pass


def load_topology(path: Path | None = None) -> dict[str, Any]:
    path = Path(path or DEFAULT_TOPOLOGY)
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise TopologyError(f"cannot read topology {path}: {error}") from error
    if isinstance(spec, dict) and "extends" in spec:
        spec = _extended(load_topology(DEFAULT_TOPOLOGY.parent / spec.pop("extends")), spec)
    if not isinstance(spec, dict) or "hosts" not in spec or "ontap_clusters" not in spec:
        raise TopologyError(f"{path}: a topology needs 'ontap_clusters' and 'hosts'")
    return spec


def _extended(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extends: <topology>` (a built-in one's file name, or an absolute path): the base's lists with this file's items
    after them (more hosts, clusters, LUNs, igroups), its other keys replaced by this file's. An item named like one of
    the base's (an ONTAP cluster) adds to that one's lists instead (more volumes on cluster-b)."""
    merged = dict(base)
    for key, value in extra.items():
        if not isinstance(value, list):
            merged[key] = value
            continue
        items = [dict(item) if isinstance(item, dict) else item for item in base.get(key) or []]
        by_name = {item["name"]: item for item in items if isinstance(item, dict) and "name" in item}
        for item in value:
            same = by_name.get(item.get("name")) if isinstance(item, dict) else None
            if same is None:
                items.append(item)
                continue
            for field, more in item.items():
                same[field] = list(same.get(field) or []) + list(more) if isinstance(more, list) else more
        merged[key] = items
    return merged


def build_world(spec: dict[str, Any]) -> World:
    world = World()
    world.settings = {"name": spec.get("name", "lab"), "domain": spec.get("domain", "lab.local"),
                      "credentials": spec["credentials"],
                      # Fleet: the share installers and .msu files come from, and how long a reboot takes.
                      "software_share": spec.get("software_share"), "reboot_seconds": spec.get("reboot_seconds", 2.0)}
    with world.lock:
        _build_storage(world, spec)
        _build_windows(world, spec)
        _build_igroups(world, spec)
        _build_luns(world, spec)
        _build_vms(world, spec)
        _build_snapmirrors(world, spec)
    return world


def _build_storage(world: World, spec: dict[str, Any]) -> None:
    creds = spec["credentials"]["ontap"]
    for item in spec["ontap_clusters"]:
        cluster = StorageCluster(item["name"], version=str(item.get("version", "9.13.1")),
                                 site=item.get("site", "a"), username=creds["username"],
                                 password=creds["password"])
        cluster.unlicensed = set(item.get("unlicensed", []))  # licence packages this cluster lacks
        cluster.add_svm(item["svm"])
        cluster.add_aggregate(item.get("aggregate", "aggr1"), 20 * 1024 * GIB)
        for vol in item.get("volumes", []):
            cluster.create_volume(item["svm"], vol["name"], item.get("aggregate", "aggr1"),
                                  int(vol["size"]) * GIB, type=vol.get("type", "rw"))
        # How long ONTAP jobs take (ontap/jobs.py): {profile, durations} for every cluster, then per cluster.
        ontap_jobs.configure(cluster, **{**spec.get("ontap_jobs", {}), **item.get("jobs", {})})
        world.clusters[cluster.name] = cluster
    clusters = list(world.clusters.values())
    for index, cluster in enumerate(clusters):
        for other in clusters[index + 1:]:
            cluster.peer_with(other)


def _services(host_spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    services = {
        "vmms": {"display_name": "Hyper-V Virtual Machine Management", "status": "Running", "start_type": "Automatic"},
        "MSiSCSI": {"display_name": "Microsoft iSCSI Initiator Service", "status": "Running", "start_type": "Automatic"},
        "WinRM": {"display_name": "Windows Remote Management (WS-Management)", "status": "Running",
                  "start_type": "Automatic"},
        "VSS": {"display_name": "Volume Shadow Copy", "status": "Stopped", "start_type": "Manual"},
    }
    if host_spec.get("cluster"):
        services["ClusSvc"] = {"display_name": "Cluster Service", "status": "Running", "start_type": "Automatic"}
    if host_spec.get("vss_provider"):
        services["SWSvc"] = {"display_name": "SnapDrive", "status": "Running", "start_type": "Automatic"}
        services["navssprv"] = {"display_name": "Data ONTAP VSS Hardware Provider", "status": "Stopped",
                                "start_type": "Manual"}
    return services


def _build_windows(world: World, spec: dict[str, Any]) -> None:
    creds = spec["credentials"]["windows"]
    domain = world.settings["domain"]
    for item in spec["hosts"]:
        host = WindowsHost(name=item["name"], site=item.get("site", "a"), domain=domain,
                           username=creds["username"], password=creds["password"],
                           iscsi_iqn=f"iqn.1991-05.com.microsoft:{item['name']}.{domain}".lower(),
                           cluster=item.get("cluster", ""), hotfixes=set(item.get("hotfixes", [])),
                           services=_services(item))
        if "os" in item:
            host.os_name = item["os"]
        if "os_version" in item:
            host.os_version = item["os_version"]
        if "ubr" in item:
            host.ubr = int(item["ubr"])
        if not host.cluster:
            host.features.discard("Failover-Clustering")
        _fleet_state(host, item)
        if item.get("vss_provider"):
            host.vss_providers.append({"name": "Data ONTAP VSS Hardware Provider",
                                       "id": "{ddd3d232-a96f-4ac5-8f7b-250fd91fd102}", "type": "Hardware",
                                       "version": "7.1.5"})
            host.installed_software["NetApp SnapDrive"] = {"version": "7.1.5"}
        host.vss_providers.append({"name": "Microsoft Software Shadow Copy provider 1.0",
                                   "id": "{b5946137-7b9f-4925-af80-51abd60b20d5}", "type": "System",
                                   "version": "1.0.0.7"})
        # How long its checkpoints take (hyperv/timing.py): {profile, durations, concurrency} for every host, then per host.
        hyperv_timing.configure(host, **{**spec.get("hyperv_timing", {}), **item.get("timing", {})})
        host.smb_shares = {"\\\\" + share.strip("\\").lower(): FileTree() for share in item.get("smb_shares", [])}
        world.hosts[host.name] = host
    for item in spec.get("failover_clusters", []):
        missing = [n for n in item["nodes"] if n not in world.hosts]
        if missing:
            raise TopologyError(f"cluster {item['name']}: unknown nodes {missing}")
        world.failover_clusters[item["name"]] = FailoverCluster(
            name=item["name"], nodes=list(item["nodes"]), owner_node=item.get("owner_node", item["nodes"][0]),
            site=item.get("site", "a"))


def _fleet_state(host: WindowsHost, item: dict[str, Any]) -> None:
    """What the fleet roles check and fix: firewall rules, missing features, service settings, software."""
    for rule in item.get("firewall_rules", []):
        host.firewall_rules[rule["display_name"]] = {
            "name": rule["name"], "local_ports": [str(p) for p in rule["ports"]], "protocol": "TCP",
            "direction": "Inbound", "action": "Allow", "enabled": True, "profile": rule.get("profile", "Domain"),
            "description": rule.get("description", "")}
    host.features.difference_update(item.get("features_missing", []))
    for name, settings in item.get("services", {}).items():
        host.services.setdefault(name, {"display_name": name}).update(settings)
    for name, version in item.get("software", {}).items():
        host.installed_software[name] = {"version": str(version), "publisher": "NetApp, Inc."}


def _scope_hosts(world: World, names: list[str]) -> list[WindowsHost]:
    hosts = []
    for name in names:
        if name in world.failover_clusters:
            hosts.extend(world.hosts[n] for n in world.failover_clusters[name].nodes)
        elif name in world.hosts:
            hosts.append(world.hosts[name])
        else:
            raise TopologyError(f"unknown host or cluster {name!r}")
    return hosts


def _build_igroups(world: World, spec: dict[str, Any]) -> None:
    """igroups made ahead of any LUN, as an administrator prepares a DR site: `{cluster, name, hosts}`, where `hosts`
    names hosts or failover clusters (every node's IQN)."""
    for item in spec.get("igroups", []):
        cluster = world.cluster(item["cluster"])
        svm = item.get("svm") or next(c["svm"] for c in spec["ontap_clusters"] if c["name"] == item["cluster"])
        cluster.create_igroup(svm, item["name"], os_type="hyper_v", protocol="iscsi",
                              initiators=[host.iscsi_iqn for host in _scope_hosts(world, item["hosts"])])


def _build_luns(world: World, spec: dict[str, Any]) -> None:
    for item in spec.get("luns", []):
        cluster = world.cluster(item["cluster"])
        content = LunContent(label=item.get("label", item["name"]), partition_style=item.get("partition_style", "GPT"))
        lun = cluster.create_lun(item["volume"], item["name"], int(item["size"]) * GIB, os_type="hyper_v",
                                 content=content)
        for host in _scope_hosts(world, item["hosts"]):
            igroup = f"ig_{host.name}"
            if not any(g.name == igroup for g in cluster.igroups.values()):
                cluster.create_igroup(lun.volume.svm.name, igroup, os_type="hyper_v", protocol="iscsi",
                                      initiators=[host.iscsi_iqn])
            cluster.map_lun(lun.path, igroup)
            disk = Disk(number=host.next_disk_number(), serial=lun.serial, cluster=cluster.name, lun_path=lun.path)
            if "csv" in item:
                disk.is_csv = True
                disk.access_paths = [f"C:\\ClusterStorage\\{item['csv']}\\"]
            else:
                disk.access_paths = [item["access_path"]]
                owner = item.get("owner")
                if owner and owner != host.name:
                    disk.online, disk.offline_reason = False, "Reserved by the failover cluster"
            host.disks[lun.serial] = disk
        if "csv" in item:
            fc = next(c for c in world.failover_clusters.values() if item["hosts"][0] in c.nodes)
            fc.csvs.append(ClusterSharedVolume(name=f"Cluster Disk {len(fc.csvs) + 1}",
                                               path=f"C:\\ClusterStorage\\{item['csv']}", serial=lun.serial,
                                               owner_node=fc.nodes[len(fc.csvs) % len(fc.nodes)]))


def _build_vms(world: World, spec: dict[str, Any]) -> None:
    for item in spec.get("vms", []):
        scope = item["scope"]
        clustered = scope in world.failover_clusters
        host = world.hosts[item["owner"] if clustered else scope]
        vm_id = str(uuid.uuid5(VM_NAMESPACE, f"{scope}/{item['name']}"))
        folder = item["path"].rstrip("\\") + "\\" + item["name"]
        vhds = []
        for index, size in enumerate(item.get("disks", [40])):
            suffix = "" if index == 0 else f"_disk{index}"
            vhd = f"{folder}\\Virtual Hard Disks\\{item['name']}{suffix}.vhdx"
            guest = {"boot\\bcd": f"{item['name']} boot configuration"} if index == 0 else {}
            host.write_file(world, vhd, new_vhdx(int(size) * GIB, guest))
            vhds.append(vhd)
        vm = VirtualMachine(id=vm_id, name=item["name"],
                            config_path=f"{folder}\\Virtual Machines\\{vm_id.upper()}.vmcx",
                            state=item.get("state", "Running"), vhd_paths=vhds, snapshot_location=folder,
                            passthrough_disks=_passthrough(host, item.get("passthrough", [])),
                            fibre_channel_hbas=[_fibre_channel_hba(vm_id, index, san) for index, san in enumerate(item.get("vfc", []))],
                            ip_addresses=[str(address) for address in item.get("ip_addresses", [])])
        host.write_file(world, vm.config_path, json.dumps(vm.config_document(), sort_keys=True).encode())
        host.vms[vm.id] = vm
        if clustered:
            role = {"name": vm.name, "owner_node": host.name, "state": vm.state}
            world.failover_clusters[scope].vm_roles[vm.id] = role


def _passthrough(host: WindowsHost, luns: list[str]) -> list[int]:
    """The numbers of the host's disks of these LUNs (by name), taken offline as Hyper-V wants a pass-through disk."""
    numbers = []
    for name in luns:
        disk = next((d for d in host.disks.values() if d.lun_path.rpartition("/")[2] == name), None)
        if disk is None:
            raise TopologyError(f"host {host.name} sees no LUN named {name!r} to pass through")
        disk.online, disk.offline_reason = False, "Policy"
        numbers.append(disk.number)
    return numbers


def _fibre_channel_hba(vm_id: str, index: int, san_name: str) -> dict[str, str]:
    """A virtual Fibre Channel adapter on the host's virtual SAN `san_name`, with the names Hyper-V generates: its default
    node name, and port names in Hyper-V's range (C003FF...), set B one after set A."""
    port = int(hashlib.sha256(f"{vm_id}/{index}".encode()).hexdigest()[:9], 16) * 2
    return {"san_name": san_name, "wwnn_set_a": "C003FF0000FFFF00", "wwpn_set_a": f"C003FF{port:010X}",
            "wwnn_set_b": "C003FF0000FFFF00", "wwpn_set_b": f"C003FF{port + 1:010X}"}


def _build_snapmirrors(world: World, spec: dict[str, Any]) -> None:
    for item in spec["ontap_clusters"]:
        destination = world.cluster(item["name"])
        for mirror in item.get("snapmirrors", []):
            source_cluster, source_path = mirror["source"].split(":", 1)
            relationship = destination.create_relationship(source_path, mirror["destination"],
                                                           source_cluster=source_cluster,
                                                           policy=mirror.get("policy", "MirrorAllSnapshots"))
            if mirror.get("initialize", True):
                destination.start_transfer(relationship)
