"""host_facts and disk_rescan over the world (Get-SmhvHostFacts, Update-SmhvDiskCache in the agent)."""
from __future__ import annotations

import re
from typing import Any

from ..world.windows import Disk
from .context import OpContext, argument
from .registry_ops import registry_view
from .storage_view import disk_records

_REGISTRY_PREFIX = re.compile(r"^(HKLM:?|HKEY_LOCAL_MACHINE)\\", re.IGNORECASE)


def _cluster_facts(ctx: OpContext) -> dict[str, Any] | None:
    # Like the agent: cluster facts only from a node whose cluster service runs.
    service = ctx.host.services.get("ClusSvc", {})
    cluster = ctx.world.failover_clusters.get(ctx.host.cluster)
    if cluster is None or service.get("status") != "Running":
        return None
    nodes = []
    for name in cluster.nodes:
        try:
            up = ctx.world.host(name).reachable
        except KeyError:
            up = False
        nodes.append({"name": name, "state": "Up" if up else "Down"})
    csvs = [{"name": c.name, "path": c.path, "owner_node": c.owner_node, "state": "Online"} for c in cluster.csvs]
    return {"name": cluster.name, "owner_node": cluster.owner_node, "nodes": nodes, "csvs": csvs}


def _services(ctx: OpContext) -> list[dict[str, Any]]:
    records = []
    for name in ctx.agent.HOST_SERVICES:
        service = ctx.host.services.get(name)
        if service is None:
            records.append({"name": name, "installed": False, "display_name": None, "status": None, "start_type": None})
        else:
            records.append({"name": name, "installed": True, "display_name": service.get("display_name", name),
                            "status": service.get("status", "Running"),
                            "start_type": service.get("start_type", "Automatic")})
    return records


def _port_matches(entry: str, port: int) -> bool:
    if entry.isdigit():
        return int(entry) == port
    low, dash, high = entry.partition("-")
    return bool(dash) and low.isdigit() and high.isdigit() and int(low) <= port <= int(high)


def _firewall_rules(ctx: OpContext, ports: list[int]) -> list[dict[str, Any]]:
    """host.firewall_rules: display name -> {name, local_ports (or port), protocol, direction, action,
    enabled, profile}; like the agent, the TCP rules whose local ports cover one of `ports`."""
    records = []
    for display_name, rule in ctx.host.firewall_rules.items():
        if str(rule.get("protocol", "TCP")).upper() != "TCP":
            continue
        local = rule.get("local_ports", rule.get("port", []))
        local_ports = [str(p) for p in (local if isinstance(local, (list, tuple)) else [local])]
        matched = []
        for port in ports:
            if any(_port_matches(entry, port) for entry in local_ports) and port not in matched:
                matched.append(port)
        if matched:
            records.append({"name": rule.get("name", display_name), "display_name": display_name,
                            "enabled": bool(rule.get("enabled", True)), "direction": rule.get("direction", "Inbound"),
                            "action": rule.get("action", "Allow"), "profile": rule.get("profile", "Any"),
                            "protocol": "TCP", "local_ports": local_ports, "matched_ports": matched})
    return records


def _registry(ctx: OpContext) -> list[dict[str, Any]]:
    roots = [root.lower() for root in ctx.agent.SMHV_REGISTRY_ROOTS]
    records = []
    for key, values in registry_view(ctx).items():
        name = _REGISTRY_PREFIX.sub("HKLM:\\\\", key.rstrip("\\"))
        if any(name.lower() == r or name.lower().startswith(r + "\\") for r in roots):
            records.append({"key": name, "values": {(v or "(default)"): data for v, data in values.items()}})
    return sorted(records, key=lambda r: r["key"].lower())


def host_facts(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    ports = argument(args, "firewall_ports", "IntegerList", ctx.agent.DEFAULT_FIREWALL_PORTS)
    host = ctx.host
    providers = [{"id": p["id"].lower(), "name": p["name"], "type": p.get("type", "Software"),
                  "version": p.get("version", "")} for p in sorted(host.vss_providers, key=lambda p: p["id"].lower())]
    domain = host.domain or "WORKGROUP"
    result = {
        "computer_name": ctx.computer_name,
        "domain": domain,
        "part_of_domain": domain.upper() != "WORKGROUP",
        "os": {"caption": host.os_name, "version": host.os_version, "build": host.build, "ubr": host.ubr},
        "powershell_version": f"5.1.{host.build}.{host.ubr}",
        "cluster": _cluster_facts(ctx),
        "features": sorted(host.features),
        "hotfixes": sorted(host.hotfixes),
        "vss_providers": providers,
        "netapp_vss_provider": any(p["id"] == ctx.agent.NETAPP_VSS_PROVIDER_ID for p in providers),
        "services": _services(ctx),
        "firewall_rules": _firewall_rules(ctx, ports),
        "initiator_ports": [{"node_address": host.iscsi_iqn, "connection_type": "iSCSI"}] if host.iscsi_iqn else [],
        "registry": _registry(ctx),
    }
    return result, False


def disk_rescan(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Update-HostStorageCache: LUNs mapped to the host's IQN appear (offline, by the default SAN
    policy for shared buses), LUNs no longer mapped disappear. Check mode looks without rescanning."""
    world, host = ctx.world, ctx.host
    before = [r["serial"] for r in disk_records(world, host)]
    if not ctx.check_mode:
        visible = {}
        if host.iscsi_iqn:
            visible = {lun.serial: (cluster, lun) for cluster, lun, _ in world.luns_visible_to(host.iscsi_iqn)}
        for serial in [s for s in host.disks if s not in visible]:
            del host.disks[serial]
        for serial, (cluster, lun) in visible.items():
            if serial not in host.disks:
                host.disks[serial] = Disk(number=host.next_disk_number(), serial=serial, cluster=cluster.name,
                                          lun_path=lun.path, online=False, offline_reason="Policy")
    disks = disk_records(world, host)
    after = [r["serial"] for r in disks]
    added = [s for s in after if s not in before]
    removed = [s for s in before if s not in after]
    return {"disks": disks, "added": added, "removed": removed}, bool(added or removed)
