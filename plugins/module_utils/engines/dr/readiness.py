# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DR readiness (smhv_failover action=readiness): what a failover of a source scope to a DR host needs, checked from the DR
site alone and changing nothing, so that it can run any day (and first thing in dr_failover.yml).

Checks, each {"check", "ok", "detail"}:
    dr_host          the DR host answers over WinRM (its facts); a DR failover cluster: every node answers
    initiator        it (every node) has an iSCSI or FC initiator, and the Microsoft iSCSI Initiator service runs
    snapinfo_mirror  the source scope's SnapInfo has a SnapMirror destination at the DR site holding its SnapInfo snapshots,
                     and the newest one's age
    relationships    every SnapMirror relationship on the DR site's clusters: state snapmirrored, healthy, lag
    igroup           per DR SVM, whether an igroup holds the DR host's (each node's) initiators already (made on failover otherwise)
    access_paths     the drive letters the failover would connect at (the SnapInfo path's, `luns` after path_map) are free, and on a
                     cluster the CSV paths (C:\\ClusterStorage\\<folder>) path_map and the SnapInfo path name are no CSV's yet
"""

from __future__ import annotations

import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.cluster import is_csv_path
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.discover import ISCSI_SERVICE
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import fetch
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.san import IGROUP_FIELDS
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import mapped, path_pairs, with_separator

try:
    from netapp_ontap.resources import Igroup
except ImportError:
    pass

_LAG = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def lag_seconds(lag):
    """ONTAP's lag_time (ISO 8601 duration, 'PT1H2M3S') in seconds, or None."""
    match = _LAG.match(lag or "")
    if not match or not lag:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def check_readiness(engine, max_lag_seconds, snapinfo_lun=None, path_map=None, luns=None):
    """`engine`: a FailoverEngine (its session, storage, source scope and SnapInfo path)."""
    checks = []
    started = engine.monotonic()

    def add(check, ok, detail):
        checks.append({"check": check, "ok": bool(ok), "detail": detail})

    nodes = _check_nodes(engine, add)
    initiators = sorted(set(port["node_address"] for facts in nodes.values() for port in facts["initiator_ports"]))
    ready, details = True, []
    for name, facts in nodes.items():
        service = next((s for s in facts["services"] if s["name"].lower() == ISCSI_SERVICE.lower()), None)
        own = [port["node_address"] for port in facts["initiator_ports"]]
        running = service is None or service["status"] == "Running"
        ready = ready and bool(own) and running
        details.append("%sinitiators %s; %s service %s" % (
            "%s: " % name if engine.on_cluster else "", ", ".join(own) or "none", ISCSI_SERVICE, service["status"] if service else
            "not installed") + ("" if running else " (a failover starts it; smhv_prerequisites sets it to start automatically)"))
    add("initiator", ready and nodes, "; ".join(details) or "no node answered")
    try:
        engine._discover(snapinfo_lun)  # pylint: disable=protected-access
    except SmhvError as error:
        add("snapinfo_mirror", False, error.message)
        relationships = engine.storage.relationships()
    else:
        info = engine.snapinfo_plan
        add("snapinfo_mirror", engine.snapinfo["relationship"].state in ("snapmirrored", "broken_off"),
            "%s -> %s (%s); LUN %s; newest SnapInfo snapshot %s of %s%s" % (
                info["source"], info["destination"], info["state"], info["lun"], info["snapshot"], info["snapshot_time"],
                "; %s keeps its own SnapInfo %s, this one comes in beside it at %s" % (engine.session.name, info["beside"], info["path"])
                if info["beside"] else ""))
        relationships = engine.relationships
    problems, rows = [], []
    for relationship in relationships:
        lag = lag_seconds(relationship.lag_time)
        row = {"source": "%s:%s" % (relationship.source_cluster, relationship.source_path),
               "destination": "%s:%s" % (relationship.cluster, relationship.destination_path), "state": relationship.state,
               "healthy": relationship.healthy, "lag_seconds": lag}
        rows.append(row)
        if relationship.state != "snapmirrored" or not relationship.healthy:
            problems.append("%s is %s%s" % (row["destination"], relationship.state, "" if relationship.healthy else ", unhealthy: " +
                                            "; ".join(relationship.unhealthy_reasons)))
        elif max_lag_seconds and lag is not None and lag > max_lag_seconds:
            problems.append("%s lags %d s (more than %d)" % (row["destination"], lag, max_lag_seconds))
    add("relationships", relationships and not problems, "; ".join(problems) if problems else "%d relationship(s) snapmirrored and healthy"
        % len(relationships))
    svms = sorted(set((r.cluster, r.destination_path.split(":", 1)[0]) for r in relationships))
    held = []
    for cluster, svm in svms:
        endpoint = engine.storage._clusters.endpoint(cluster)  # pylint: disable=protected-access
        with endpoint.call("list igroups of SVM %s" % svm):
            groups = fetch(Igroup, fields=IGROUP_FIELDS, **{"svm.name": svm})
        names = [g["name"] for g in groups if initiators and set(initiators) & set(i["name"] for i in g.get("initiators") or [])]
        held.append("%s:%s %s" % (cluster, svm, ", ".join(names) if names else "none (created on failover)"))
    add("igroup", True, "; ".join(held) or "no DR SVM")
    disks = engine.host.call("disk_rescan", {}, True).result["disks"]
    used = set(["C"]) | set(path[0].upper() for disk in disks if disk["online"] for path in disk["access_paths"]
                            if len(path.rstrip("\\")) == 2)
    pairs = path_pairs(path_map)
    wanted = [engine.snapinfo_root] + [mapped(with_separator(item["access_path"]), pairs) for item in luns or []]
    letters = sorted(set(path[0].upper() for path in wanted if len(path.rstrip("\\")) == 2))
    present = engine.snapinfo.get("present") if getattr(engine, "snapinfo", None) else False
    taken = [letter for letter in letters if letter in used]
    csvs = {with_separator(csv["path"]).lower() for csv in (engine.session.cluster or {}).get("csvs") or []}
    shared = sorted(set(with_separator(path) for path in wanted + [new for _old, new in pairs] if engine.on_cluster and is_csv_path(path)))
    busy = [path for path in shared if path.lower() in csvs]
    drives = "drive letters %s %s" % (", ".join(letter + ":" for letter in letters), (
        "in use already: %s" % ", ".join(letter + ":" for letter in taken)) if taken and not present else "free" if not present else
        "in use by the failed-over LUNs")
    if shared and not present:
        drives += "; CSV paths %s %s" % (", ".join(shared), "are CSVs already: %s" % ", ".join(busy) if busy else "free")
    add("access_paths", present or not (taken or busy), drives)
    return {"changed": False, "action": "readiness", "actions": [], "source_scope": engine.source_scope, "dr_host": engine.session.name,
            "rto": {"total": round(engine.monotonic() - started, 3), "phases": []},
            "ready": all(check["ok"] for check in checks), "checks": checks, "relationships": rows,
            "free_drive_letters": [chr(code) + ":" for code in range(ord("D"), ord("Z") + 1) if chr(code) not in used]}


def _check_nodes(engine, add):
    """Check dr_host: {node name: host_facts} of the DR host, or of every node of a DR cluster that answered."""
    if not engine.on_cluster:
        facts = engine.session.facts
        add("dr_host", True, "%s answers (%s %s); standalone" % (engine.session.name, facts["os"]["caption"], facts["os"]["version"]))
        return {engine.session.name: facts}
    nodes, failed = {}, []
    for name, outcome in engine.session.call_nodes("host_facts").items():
        if isinstance(outcome, SmhvError):
            failed.append("%s (%s)" % (name, outcome.message))
        else:
            nodes[engine.session.owner_node if name == engine.session.owner.name else name] = outcome.result
    add("dr_host", not failed, "failover cluster %s, owner node %s; node(s) %s answer%s" % (
        engine.session.name, engine.session.owner_node, ", ".join(sorted(nodes)), "; not answering: " + ", ".join(failed) if failed else ""))
    return nodes
