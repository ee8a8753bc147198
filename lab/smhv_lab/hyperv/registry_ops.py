"""registry_write over the world (Set-SmhvRegistryKey in the agent), and the registry a host sees.

A host's own keys live in `host.registry`. Keys under HKLM:\\Cluster are the failover cluster's
database hive, which Windows loads on every node while the cluster service runs and keeps in step
across nodes: the lab keeps them once, in `FailoverCluster.registry`, so a value written on one node
is read on every other node, and a node whose cluster service is stopped sees no HKLM:\\Cluster.
"""
from __future__ import annotations

import re
from typing import Any

from .context import AgentFailure, OpContext, argument

_PREFIX = re.compile(r"^(HKLM:?|HKEY_LOCAL_MACHINE)\\", re.IGNORECASE)
_CLUSTER_HIVE = "hklm:\\cluster"
_INT32_MAX = 2 ** 31 - 1
_VALUES_PROBLEM = "Argument 'values' must be a JSON object of name -> {type: String or DWord, data}."


def _normalize(key: str) -> str:
    return _PREFIX.sub("HKLM:\\\\", key.rstrip("\\"))


def _is_cluster_key(name: str) -> bool:
    lower = name.lower()
    return lower == _CLUSTER_HIVE or lower.startswith(_CLUSTER_HIVE + "\\")


def _cluster(ctx: OpContext):
    """The host's failover cluster while its cluster service runs (the hive is loaded), else None."""
    cluster = ctx.world.failover_clusters.get(ctx.host.cluster) if ctx.host.cluster else None
    if cluster is None or ctx.host.services.get("ClusSvc", {}).get("status") != "Running":
        return None
    if getattr(cluster, "registry", None) is None:  # a world pickled before clusters had a registry
        cluster.registry = {}
    return cluster


def registry_view(ctx: OpContext) -> dict[str, dict[str, Any]]:
    """Every key the host sees: its own, and its cluster's HKLM:\\Cluster keys."""
    view = {key: values for key, values in ctx.host.registry.items() if not _is_cluster_key(_normalize(key))}
    cluster = _cluster(ctx)
    if cluster is not None:
        view.update(cluster.registry)
    return view


def _subkey(ctx: OpContext, key: str, below: bool) -> str:
    """The key without a trailing backslash; like the agent, only 'HKLM:\\...' inside SMHV's registry roots."""
    name = key.rstrip("\\")
    for root in ctx.agent.SMHV_REGISTRY_ROOTS:
        if (name.lower() == root.lower() and not below) or name.lower().startswith(root.lower() + "\\"):
            return name
    raise AgentFailure("BAD_REQUEST", f"Argument 'key': '{key}' is not inside SMHV's registry keys "
                       f"({', '.join(ctx.agent.SMHV_REGISTRY_ROOTS)}).", {"argument": "key", "key": key})


def _wanted(args: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    values = args.get("values")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise AgentFailure("BAD_REQUEST", _VALUES_PROBLEM, {"argument": "values"})
    wanted = {}
    for name, spec in values.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        data = spec.get("data") if isinstance(spec, dict) else None
        valid = (kind == "String" and isinstance(data, str)) or (
            kind == "DWord" and isinstance(data, int) and not isinstance(data, bool) and 0 <= data <= _INT32_MAX)
        if not valid:
            raise AgentFailure("BAD_REQUEST", f"{_VALUES_PROBLEM} Value '{name}' is not.", {"argument": "values", "value": name})
        wanted[name] = (kind, data)
    return wanted


def _kind(data: Any) -> str:
    return "DWord" if isinstance(data, int) else "String"


def registry_write(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    key = argument(args, "key", "String", required=True)
    delete_key = argument(args, "delete_key", "Boolean", False)
    remove = {name.lower() for name in argument(args, "remove", "StringList")}
    wanted = _wanted(args)
    name = _subkey(ctx, key, below=delete_key)
    if _is_cluster_key(name):
        cluster = _cluster(ctx)
        if cluster is None:
            raise AgentFailure("AGENT_ERROR", "Requested registry access is not allowed.",
                               {"op": "registry_write", "exception_type": "System.Security.SecurityException",
                                "line": None, "command": None})
        store = cluster.registry
    else:
        store = ctx.host.registry
    stored = next((k for k in store if _normalize(k).lower() == name.lower()), None)
    existed = stored is not None
    current = dict(store[stored]) if existed else {}
    result_key = "HKLM:\\" + _PREFIX.sub("", name)

    if delete_key:
        if existed and not ctx.check_mode:
            prefix = name.lower() + "\\"
            for k in [k for k in store if _normalize(k).lower() == name.lower() or _normalize(k).lower().startswith(prefix)]:
                del store[k]
        return {"key": result_key, "existed": existed, "exists": False, "values": {}, "set": [], "removed": []}, existed

    after, removed, changed_names = {}, [], []
    wanted_lower = {n.lower() for n in wanted}
    for value_name, data in current.items():
        if value_name.lower() in remove and value_name.lower() not in wanted_lower:
            removed.append(value_name)
        else:
            after[value_name] = data
    for value_name, (kind, data) in wanted.items():
        existing = next((n for n in current if n.lower() == value_name.lower()), None)
        same = existing is not None and _kind(current[existing]) == kind and current[existing] == data
        if not same:
            changed_names.append(value_name)
        if existing is not None:
            after.pop(existing, None)
        after[value_name] = data
    changed = not existed or bool(changed_names) or bool(removed)
    if changed and not ctx.check_mode:
        store[stored if existed else name] = dict(after)
    return {"key": result_key, "existed": existed, "exists": True, "values": after, "set": changed_names,
            "removed": removed}, changed
