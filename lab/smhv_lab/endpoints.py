"""What a running lab tells its clients: endpoints.json and an Ansible inventory (DESIGN §6)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ENDPOINTS_FILE = "endpoints.json"
INVENTORY_FILE = "inventory.yml"


def describe(world, ca_path: Path, ontap_ports: dict[str, int], winrm_ports: dict[str, tuple[int, int]],
             control_url: str) -> dict[str, Any]:
    ontap_creds = world.settings["credentials"]["ontap"]
    win_creds = world.settings["credentials"]["windows"]
    scopes: dict[str, Any] = {}
    for fc in world.failover_clusters.values():
        scopes[fc.name] = {"kind": "cluster", "nodes": list(fc.nodes), "site": fc.site}
    for host in world.hosts.values():
        if not host.cluster:
            scopes[host.name] = {"kind": "standalone", "nodes": [host.name], "site": host.site}
    return {
        "ca_path": str(ca_path),
        "ontap": {name: {"host": "127.0.0.1", "port": port, "username": ontap_creds["username"],
                         "password": ontap_creds["password"], "site": world.clusters[name].site}
                  for name, port in ontap_ports.items()},
        "hosts": {name: {"address": "127.0.0.1", "http_port": http, "https_port": https,
                         "username": win_creds["username"], "password": win_creds["password"],
                         "scope": world.hosts[name].cluster or name, "site": world.hosts[name].site}
                  for name, (http, https) in winrm_ports.items()},
        "scopes": scopes,
        "control": {"url": control_url},
        "software_share": world.settings.get("software_share") or {},
    }


def inventory(endpoints: dict[str, Any]) -> dict[str, Any]:
    """An inventory whose `all` vars feed module_defaults, and whose groups list scope names per site."""
    hosts = endpoints["hosts"]
    addresses = {name: f"{h['address']}:{h['https_port']}" for name, h in hosts.items()}
    for scope, info in endpoints["scopes"].items():
        if info["kind"] == "cluster":
            # The cluster name resolves to the cluster IP, which the core-group owner answers for.
            addresses[scope] = addresses[info["nodes"][0]]
    any_host = next(iter(hosts.values()))
    groups: dict[str, Any] = {}
    for scope, info in endpoints["scopes"].items():
        groups.setdefault(f"site_{info['site']}", {"hosts": {}})["hosts"][scope] = {"smhv_scope_kind": info["kind"]}
    return {"all": {
        "vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "smhv_storage_systems": [
                {"hostname": o["host"], "port": o["port"], "username": o["username"], "password": o["password"],
                 "validate_certs": True, "ca_path": endpoints["ca_path"]}
                for o in endpoints["ontap"].values()],
            "smhv_winrm": {"username": any_host["username"], "password": any_host["password"], "use_ssl": True,
                           "validate_certs": True, "ca_path": endpoints["ca_path"], "auth": "ntlm",
                           "protocol": "psrp"},
            "smhv_host_addresses": addresses,
            "smhv_lab_control_url": endpoints["control"]["url"],
            **fleet_vars(endpoints.get("software_share") or {}, any_host),
        },
        "hosts": {"localhost": {}},
        "children": groups,
    }}


def fleet_vars(share: dict[str, Any], account: dict[str, Any]) -> dict[str, str]:
    """What fleet_install.yml and hotfix_compliance.yml need that only the topology knows: the first installer of each
    product on the lab's software share, the share's folder of updates, and the lab's account for the services."""
    root = share.get("root", "").rstrip("\\")
    paths = {}
    for item in share.get("files", []):
        paths.setdefault(item.get("product") or "updates", f"{root}\\{item['path']}")
    found = {"smhv_install_snapdrive_installer": paths.get("NetApp SnapDrive"),
             "smhv_install_smhv_installer": paths.get("NetApp SnapManager for Hyper-V"),
             "smhv_hotfix_source": paths["updates"].rpartition("\\")[0] if "updates" in paths else None}
    if found["smhv_install_smhv_installer"]:
        found.update(smhv_install_service_username=account["username"], smhv_install_service_password=account["password"])
    return {name: value for name, value in found.items() if value}


def write(state_dir: Path, endpoints: dict[str, Any]) -> None:
    for name, text in ((ENDPOINTS_FILE, json.dumps(endpoints, indent=2, sort_keys=True)),
                       (INVENTORY_FILE, yaml.safe_dump(inventory(endpoints), sort_keys=False))):
        tmp = state_dir / (name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)  # both files hold the lab's passwords
        tmp.replace(state_dir / name)


def read(state_dir: Path) -> dict[str, Any]:
    return json.loads((Path(state_dir) / ENDPOINTS_FILE).read_text())
