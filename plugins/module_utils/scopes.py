# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scopes (a standalone Hyper-V host or a failover cluster): find them, describe them, register them.

A scope is registered where SMHV kept its settings, so that any later module, and any other
controller, reads the registration from the host itself:

- the SMHV registry key of the scope, values ``snapinfo_path``, ``report_path`` (strings) and
  ``snapinfo_snaps_count`` (DWORD, SMHV's own value: how many SnapInfo snapshots to keep):
  ``HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\<host>`` for a standalone host,
  ``HKLM:\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\<cluster>`` for a cluster (the
  cluster database hive; SMHV's guide has it set on every node, and so does this engine);
- the scope record of the SnapInfo repository, ``<snapinfo path>\\smhv\\v1\\scope.json`` (catalog.Catalog).

Every call goes to the scope's coordinating host: the standalone host, or the cluster node that
owns the core cluster group (``hyperv_host`` may name the cluster, or any node of it).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.licences import (
    REGISTRATION, host_protocols, licence_problems, require_licences)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import MAX_PARALLEL_HOSTS, HostClient, call_many

STANDALONE_KEY = "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\%s"
CLUSTER_KEY = "HKLM:\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\%s"
VALUE_SNAPINFO_PATH = "snapinfo_path"
VALUE_REPORT_PATH = "report_path"
VALUE_SNAPS_COUNT = "snapinfo_snaps_count"
DEFAULT_SNAPS_COUNT = 30
MAX_SNAPS_COUNT = 1000
SCOPE_RECORD = "smhv\\v1\\scope.json"


def registry_key(kind, name):
    return (CLUSTER_KEY if kind == "cluster" else STANDALONE_KEY) % name


def _same_name(left, right):
    return (left or "").lower() == (right or "").lower()


# -- scope ---------------------------------------------------------------------------------------

class ScopeSession:
    """The connection to one scope: its coordinating host (`owner`, a HostClient), that host's
    facts, and clients to the other cluster nodes opened on demand. Use it as a context manager."""

    def __init__(self, hyperv_host, winrm_options, host_addresses, client_factory=HostClient):
        self._factory = lambda name: client_factory(name, winrm_options, host_addresses)
        self._others = None
        self._spare = None
        self.requested = hyperv_host
        self.owner = self._factory(hyperv_host)
        try:
            self.facts = self.owner.call("host_facts").result
            cluster = self.facts["cluster"]
            if cluster and not _same_name(cluster["owner_node"], self.facts["computer_name"]):
                # The cluster name or another node was given: work through the core group's owner.
                self.owner.close()
                self.owner = self._factory(cluster["owner_node"])
                self.facts = self.owner.call("host_facts").result
                cluster = self.facts["cluster"] or cluster
        except Exception:
            self.owner.close()
            raise
        self.cluster = cluster
        if cluster:
            self.kind, self.name, self.owner_node = "cluster", cluster["name"], cluster["owner_node"]
            self.node_names = [node["name"] for node in cluster["nodes"]]
        else:
            self.kind, self.name, self.owner_node = "standalone", self.facts["computer_name"].lower(), None
            self.node_names = [self.name]
        self.key = registry_key(self.kind, self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close every connection at once: each close is a WinRM round trip of its own host."""
        clients = [self.owner] + list((self._others or {}).values()) + ([self._spare] if self._spare is not None else [])
        if len(clients) == 1:
            self.owner.close()
            return
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_HOSTS, len(clients))) as pool:
            list(pool.map(lambda client: client.close(), clients))  # HostClient.close() never raises

    def spare_owner(self):
        """A second connection to the coordinating host, opened on first use: for work that must not wait behind the
        owner's calls (a HostClient runs one call at a time), such as renewing a lease while a long script runs."""
        if self._spare is None:
            self._spare = self._factory(self.owner.name)
        return self._spare

    def other_nodes(self):
        """{node name: HostClient} for the cluster nodes other than the owner (empty when standalone)."""
        if self._others is None:
            names = [name for name in self.node_names if self.kind == "cluster" and not _same_name(name, self.owner.name)
                     and not _same_name(name, self.facts["computer_name"])]
            self._others = {name: self._factory(name) for name in names}
        return self._others

    def call_nodes(self, op, args=None, check_mode=False):
        """`op` on the owner and every other node: {node name: AgentReply or SmhvError}, owner first."""
        results = {self.owner.name: self._call_owner(op, args, check_mode)}
        results.update(call_many(self.other_nodes(), op, {name: args for name in self.other_nodes()} if args else None,
                                 check_mode=check_mode))
        return results

    def _call_owner(self, op, args, check_mode):
        try:
            return self.owner.call(op, args, check_mode)
        except SmhvError as error:
            return error

    def registry_values(self, facts=None):
        """The values of the scope's SMHV key as the owner (or `facts`) reports them, or None."""
        for record in (facts or self.facts)["registry"]:
            if _same_name(record["key"], self.key):
                return dict(record["values"])
        return None

    def registration(self):
        """What the host says about the scope's registration (the registry key's values)."""
        values = self.registry_values()
        found = values is not None and bool(values.get(VALUE_SNAPINFO_PATH))
        count = (values or {}).get(VALUE_SNAPS_COUNT)
        return {"registered": found, "registry_key": self.key,
                "snapinfo_path": (values or {}).get(VALUE_SNAPINFO_PATH),
                "report_path": (values or {}).get(VALUE_REPORT_PATH),
                "snapinfo_snaps_count": count if isinstance(count, int) else DEFAULT_SNAPS_COUNT}

    def require_registration(self, snapinfo_path=None):
        """(snapinfo path, snaps count): the registration, or `snapinfo_path` when given."""
        registration = self.registration()
        if snapinfo_path:
            return snapinfo_path, registration["snapinfo_snaps_count"]
        if not registration["registered"]:
            raise SmhvError("SCOPE_NOT_REGISTERED", "%s %s is not registered: its registry key %s has no %s value (read on host %s). "
                            "Register it with netapp_hyperv.smhv.smhv_host, or pass snapinfo_path."
                            % (self.kind.capitalize(), self.name, self.key, VALUE_SNAPINFO_PATH, self.owner.name),
                            {"scope": self.name, "registry_key": self.key, "host": self.owner.name})
        return registration["snapinfo_path"], registration["snapinfo_snaps_count"]

    def describe(self):
        nodes = []
        for node in (self.cluster or {}).get("nodes") or [{"name": self.name, "state": "Up"}]:
            nodes.append({"name": node["name"], "state": node["state"],
                          "owner": self.kind == "standalone" or _same_name(node["name"], self.owner_node)})
        return {"name": self.name, "kind": self.kind, "requested": self.requested, "cluster": self.name if self.cluster else None,
                "owner_node": self.owner_node, "coordinator": self.owner.name, "nodes": nodes,
                "csvs": list((self.cluster or {}).get("csvs") or [])}


# -- facts ---------------------------------------------------------------------------------------

def port_states(facts, ports=agent.DEFAULT_FIREWALL_PORTS):
    """Per port, whether an enabled inbound Allow rule of the Windows firewall opens it, and which rules cover it."""
    states = []
    for port in ports:
        rules = [rule for rule in facts["firewall_rules"] if port in rule["matched_ports"]]
        open_rules = [rule["display_name"] for rule in rules
                      if rule["enabled"] and rule["direction"] == "Inbound" and rule["action"] == "Allow"]
        states.append({"port": port, "open": bool(open_rules), "rules": [rule["display_name"] for rule in rules]})
    return states


def host_summary(name, facts):
    """The facts of one host as modules return them."""
    os_facts = facts["os"]
    return {
        "name": name, "reachable": True, "computer_name": facts["computer_name"], "domain": facts["domain"],
        "os": dict(os_facts, full_version="%s.%s" % (os_facts["version"], os_facts["ubr"])),
        "powershell_version": facts["powershell_version"], "features": facts["features"], "hotfixes": facts["hotfixes"],
        "vss_providers": facts["vss_providers"], "netapp_vss_provider": facts["netapp_vss_provider"],
        "services": {service["name"]: {key: value for key, value in service.items() if key != "name"} for service in facts["services"]},
        "ports": port_states(facts), "initiator_ports": facts["initiator_ports"],
    }


def gather_hosts(session):
    """(host summaries, warnings): the owner, then every other node (one that fails is reported, not fatal)."""
    hosts, warnings = [host_summary(session.owner.name, session.facts)], []
    for name, outcome in call_many(session.other_nodes(), "host_facts").items():
        if isinstance(outcome, SmhvError):
            hosts.append({"name": name, "reachable": False, "error_code": outcome.code, "msg": outcome.message})
            warnings.append("Cluster node %s did not answer (%s): its facts are missing." % (name, outcome.message))
        else:
            hosts.append(host_summary(name, outcome.result))
    return hosts, warnings


# -- SnapInfo location ---------------------------------------------------------------------------

def path_storage(session, paths):
    """{path: path_info record} on the coordinating host."""
    reply = session.owner.call("path_info", {"paths": list(paths)})
    return {record["path"]: record for record in reply.result["paths"]}


def snapinfo_lun(session, storage, snapinfo_path, record=None):
    """The LunRef behind the SnapInfo path, or NOT_ON_ONTAP saying what the path is on and what to do."""
    record = record or path_storage(session, [snapinfo_path])[snapinfo_path]
    where = record["storage"]
    details = {"path": snapinfo_path, "host": session.owner.name, "disk_serial": where["disk_serial"]}
    if where["is_smb"]:
        raise SmhvError("NOT_ON_ONTAP", "SnapInfo path %s is an SMB share; this collection keeps SnapInfo on an ONTAP LUN (it snapshots "
                        "and restores the LUN). Use a path on a NetApp LUN or CSV connected to %s." % (snapinfo_path, session.owner.name),
                        details)
    if where["access_path"] is None:
        raise SmhvError("PATH_NOT_FOUND", "SnapInfo path %s is on no volume of host %s (no such drive or mount point). Connect the SnapInfo "
                        "LUN to the host first." % (snapinfo_path, session.owner.name), details)
    if not where["netapp_lun"] or not where["disk_serial"]:
        raise SmhvError("NOT_ON_ONTAP", "SnapInfo path %s on host %s is on disk %s (%s), which is not an ONTAP LUN. Put SnapInfo on a "
                        "NetApp LUN, on a volume of its own."
                        % (snapinfo_path, session.owner.name, where["disk_number"], where["access_path"]), details)
    found = storage.find_luns_by_serials([where["disk_serial"]])
    if where["disk_serial"] not in found:
        raise SmhvError("NOT_ON_ONTAP", "SnapInfo path %s on host %s is on NetApp disk serial %s, which none of the configured ONTAP "
                        "clusters has. Add its cluster to storage_systems." % (snapinfo_path, session.owner.name, where["disk_serial"]),
                        details)
    return found[where["disk_serial"]]


def lun_facts(lun, volume=None):
    facts = {"cluster": lun.cluster, "svm": lun.svm, "volume": lun.volume_name, "path": lun.path, "serial": lun.serial,
             "size": lun.size}
    if volume is not None:
        facts["volume_type"] = volume.type
        facts["volume_snapshot_count"] = volume.snapshot_count
    return facts


# -- registration --------------------------------------------------------------------------------

def _current_scope_record(catalog):
    try:
        return catalog.scope()
    except SmhvError as error:
        if error.code == "SCOPE_NOT_REGISTERED":
            return None
        raise


def _same_record(current, wanted):
    return current is not None and dataclasses.replace(current, created=None) == dataclasses.replace(wanted, created=None)


def _validate_report_path(session, report_path, record):
    where = record["storage"]
    if where["is_csv"]:
        raise SmhvError("PATH_NOT_ALLOWED", "Report path %s is on cluster shared volume %s of %s; SMHV's rule is that the report path "
                        "must not reside on a CSV. Use a path on a local or dedicated disk." % (report_path, where["csv_name"] or
                                                                                                where["access_path"], session.name),
                        {"path": report_path, "csv": where["csv_name"], "host": session.owner.name})
    if not where["is_smb"] and where["access_path"] is None:
        raise SmhvError("PATH_NOT_FOUND", "Report path %s is on no volume of host %s (no such drive or mount point)."
                        % (report_path, session.owner.name), {"path": report_path, "host": session.owner.name})


def _require_shared_disk(session, snapinfo_path, record):
    """A cluster's SnapInfo must be reachable from every node: a CSV, or a disk every node sees."""
    if session.kind != "cluster" or record["storage"]["is_csv"]:
        return
    serial = record["storage"]["disk_serial"]
    missing = []
    for name, outcome in call_many(session.other_nodes(), "disk_rescan", check_mode=True).items():
        if isinstance(outcome, SmhvError):
            raise SmhvError(outcome.code, "Cannot check that SnapInfo path %s is on a disk shared by every node of cluster %s: node %s "
                            "did not answer (%s)." % (snapinfo_path, session.name, name, outcome.message), outcome.details)
        if not any(disk["serial"] == serial for disk in outcome.result["disks"]):
            missing.append(name)
    if missing:
        raise SmhvError("PATH_NOT_ALLOWED", "SnapInfo path %s of cluster %s is on disk serial %s, which node(s) %s do not see: a cluster's "
                        "SnapInfo must be on a shared cluster disk or a CSV. Map the LUN to every node's igroup, or choose another path."
                        % (snapinfo_path, session.name, serial, ", ".join(missing)),
                        {"path": snapinfo_path, "disk_serial": serial, "nodes_without_disk": missing})


def _vm_data_on_volume(session, storage, lun, warnings):
    """Names of the VMs with a file on the SnapInfo LUN's volume (every node's VMs)."""
    per_vm = {}
    for name, outcome in session.call_nodes("vm_inventory").items():
        if isinstance(outcome, SmhvError):
            if name == session.owner.name:
                raise outcome
            warnings.append("Cluster node %s did not answer (%s): its VMs were not checked for data on the SnapInfo volume."
                            % (name, outcome.message))
            continue
        for vm in outcome.result["vms"]:
            for item in vm["files"]:
                if item["storage"]["netapp_lun"] and item["storage"]["disk_serial"]:
                    per_vm.setdefault(vm["name"], set()).add(item["storage"]["disk_serial"])
    serials = sorted(set().union(*per_vm.values())) if per_vm else []
    found = storage.find_luns_by_serials(serials) if serials else {}
    return sorted(vm for vm, vm_serials in per_vm.items()
                  if any(serial in found and found[serial].cluster == lun.cluster and found[serial].volume_uuid == lun.volume_uuid
                         for serial in vm_serials))


def _write_registry(session, args, check_mode, warnings):
    """registry_write on the owner, then on every other node of a cluster; True if any changed."""
    changed = False
    for name, outcome in session.call_nodes("registry_write", args, check_mode).items():
        if isinstance(outcome, SmhvError):
            if name == session.owner.name:
                raise outcome
            warnings.append("Cluster node %s was not updated (%s); run the task again when it is up." % (name, outcome.message))
        else:
            changed = changed or outcome.changed
    return changed


def _refuse_missing_repository(session, snapinfo_path, record_path, registered_path):
    where = ""
    if registered_path and registered_path.rstrip("\\").lower() != snapinfo_path.rstrip("\\").lower():
        where = " The scope is registered with SnapInfo path %s now." % registered_path
    raise SmhvError("INVALID_ARGUMENT", "SnapInfo path %s on host %s holds no SnapInfo repository (%s does not exist).%s Check the path "
                    "for a typo; to create a new, empty repository there (a first registration), set create_snapinfo: true."
                    % (snapinfo_path, session.owner.name, record_path, where),
                    {"path": snapinfo_path, "scope_record": record_path, "registered_path": registered_path, "option": "create_snapinfo"})


def register(session, storage, snapinfo_path, report_path, snaps_count=DEFAULT_SNAPS_COUNT, check_mode=False, create_snapinfo=False):
    """Validate the paths and register the scope (registry key and SnapInfo scope record). A SnapInfo
    path without a repository (no scope record) is refused unless `create_snapinfo`: a misspelt path
    would otherwise point the scope at a new, empty catalog."""
    if not 1 <= snaps_count <= MAX_SNAPS_COUNT:
        raise SmhvError("INVALID_ARGUMENT", "snapinfo_snaps_count is %d; keep between 1 and %d SnapInfo snapshots."
                        % (snaps_count, MAX_SNAPS_COUNT), {"snapinfo_snaps_count": snaps_count})
    warnings, actions = [], []
    records = path_storage(session, [snapinfo_path, report_path])
    if records[snapinfo_path]["exists"] and not records[snapinfo_path]["is_directory"]:
        raise SmhvError("INVALID_ARGUMENT", "SnapInfo path %s on host %s is a file; give a directory." % (snapinfo_path, session.owner.name),
                        {"path": snapinfo_path})
    lun = snapinfo_lun(session, storage, snapinfo_path, records[snapinfo_path])
    warnings += require_licences(_licence_packages(storage), REGISTRATION, "Registering scope %s" % session.name,
                                 any_of=host_protocols(session.facts.get("initiator_ports")))
    _validate_report_path(session, report_path, records[report_path])
    _require_shared_disk(session, snapinfo_path, records[snapinfo_path])
    sharing = _vm_data_on_volume(session, storage, lun, warnings)
    if sharing:
        warnings.append("The SnapInfo LUN %s is on volume %s:%s, which also holds data of VM(s) %s. NetApp recommends a volume of its own "
                        "for SnapInfo, so that restoring SnapInfo never touches VM data." % (lun.path, lun.svm, lun.volume_name,
                                                                                             ", ".join(sharing)))

    previous = session.registration()
    if previous["snapinfo_path"] and previous["snapinfo_path"].rstrip("\\").lower() != snapinfo_path.rstrip("\\").lower():
        warnings.append("The SnapInfo path changes from %s to %s. As with SMHV, files are not moved: copy %s\\smhv to %s\\smhv to keep "
                        "the catalog." % (previous["snapinfo_path"], snapinfo_path, previous["snapinfo_path"].rstrip("\\"),
                                          snapinfo_path.rstrip("\\")))

    wanted = Scope(name=session.name, scope_type=session.kind, nodes=tuple(session.node_names), snapinfo_path=snapinfo_path,
                   report_path=report_path, snapinfo_copies=snaps_count)
    catalog = Catalog(HostRepository(session.owner, snapinfo_path))
    current = _current_scope_record(catalog)
    record_path = "%s\\%s" % (snapinfo_path.rstrip("\\"), SCOPE_RECORD)
    if current is None and not create_snapinfo:
        _refuse_missing_repository(session, snapinfo_path, record_path, previous["snapinfo_path"])
    if current is None:
        actions.append("create the SnapInfo repository in %s with scope record %s" % (snapinfo_path, record_path))
    elif not _same_record(current, wanted):
        actions.append("update scope record %s" % record_path)
    if actions and not check_mode:
        catalog.initialize(wanted)

    values = {VALUE_SNAPINFO_PATH: {"type": "String", "data": snapinfo_path}, VALUE_REPORT_PATH: {"type": "String", "data": report_path},
              VALUE_SNAPS_COUNT: {"type": "DWord", "data": snaps_count}}
    current_values = session.registry_values() or {}
    differs = sorted(name for name, spec in values.items() if current_values.get(name) != spec["data"]
                     or isinstance(current_values.get(name), int) != (spec["type"] == "DWord"))
    if differs:
        actions.append("set %s in registry key %s%s" % (", ".join(differs), session.key,
                                                        " on every node" if session.kind == "cluster" else ""))
    # Written on every node even when the owner's view already matches: a node that missed an
    # earlier run (down, or a hive that did not replicate) is brought in line.
    if _write_registry(session, {"key": session.key, "values": values}, check_mode, warnings) and not differs:
        actions.append("set the registry key %s on the nodes that differed" % session.key)

    settings = {"registered": True, "registry_key": session.key, "snapinfo_path": snapinfo_path, "report_path": report_path,
                "snapinfo_snaps_count": snaps_count, "scope_record": record_path, "lun": lun_facts(lun),
                "volume_shared_with_vms": sharing}
    return {"changed": bool(actions), "actions": actions, "snapinfo": settings, "warnings": warnings}


def _licence_packages(storage):
    """{cluster: {package: state}} of every configured cluster that answers (one request each, cached by the client)."""
    identities = storage.reachable_clusters()[0]
    return dict((identity.name, storage.licence_packages(identity.name)) for identity in identities)


def licence_readiness(session, storage):
    """Per cluster, its licence packages and the ones registration and operations need that it lacks (smhv_host_info)."""
    protocols = host_protocols(session.facts.get("initiator_ports"))
    needed = list(REGISTRATION) + ["snapmirror", "snapvault"]
    readiness = {}
    for cluster, packages in sorted(_licence_packages(storage).items()):
        missing = licence_problems(packages, cluster, needed, protocols)[0]
        readiness[cluster] = {"packages": packages, "missing": missing}
    return readiness


def unregister(session, check_mode=False):
    """Delete the scope's registry key. The SnapInfo repository is left as it is (backups stay restorable)."""
    warnings, actions = [], []
    previous = session.registration()
    if session.registry_values() is not None:
        actions.append("delete registry key %s%s" % (session.key, " on every node" if session.kind == "cluster" else ""))
    changed = _write_registry(session, {"key": session.key, "delete_key": True}, check_mode, warnings)
    if changed and not actions:
        actions.append("delete registry key %s on the nodes that still had it" % session.key)
    if actions and previous["snapinfo_path"]:
        warnings.append("The SnapInfo repository in %s is kept (it holds the backup catalog); delete it by hand if it is no longer wanted."
                        % previous["snapinfo_path"])
    return {"changed": bool(actions), "actions": actions, "snapinfo": dict(previous, registered=False), "warnings": warnings}


def describe_scope(session, storage=None):
    """Facts of the scope: the scope, each host's facts, and the SnapInfo settings (with its LUN when storage is given)."""
    hosts, warnings = gather_hosts(session)
    settings = session.registration()
    settings["lun"] = None
    if settings["registered"] and storage is not None:
        try:
            lun = snapinfo_lun(session, storage, settings["snapinfo_path"])
            volume = storage.get_volumes(lun.cluster, [lun.volume_uuid])[0]
            settings["lun"] = lun_facts(lun, volume)
        except SmhvError as error:
            warnings.append("The SnapInfo path %s could not be resolved to an ONTAP LUN: %s" % (settings["snapinfo_path"], error.message))
    result = {"scope": session.describe(), "hosts": hosts, "snapinfo": settings, "warnings": warnings}
    if storage is not None:
        result["licences"] = licence_readiness(session, storage)
        warnings += ["ONTAP cluster %s lacks licence(s) %s." % (cluster, ", ".join(found["missing"]))
                     for cluster, found in sorted(result["licences"].items()) if found["missing"]]
    return result
