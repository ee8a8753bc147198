# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall rules for SMHV and SnapDrive on every node of a scope (seed §4.1, the smhv_firewall_ports module).

808 is SMHV's (and SnapDrive's) Net.Tcp port, 4094/4095 SnapDrive's HTTP/HTTPS web service; on a
cluster the port must be the same on every node. Each port gets one inbound TCP allow rule with a
stable Name, so a rule that drifted (another port, disabled, another profile) is found and corrected
in place, and the drift between nodes is reported before it is fixed.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.common import Scope

DESCRIPTION = "Managed by netapp_hyperv.smhv"
# key -> (rule Name, DisplayName): Names are what the module finds rules by; keep them stable.
RULES = (
    ("smhv", "NetApp-SMHV-NetTcp", "NetApp SnapManager for Hyper-V (Net.Tcp)"),
    ("snapdrive_http", "NetApp-SnapDrive-HTTP", "NetApp SnapDrive web service (HTTP)"),
    ("snapdrive_https", "NetApp-SnapDrive-HTTPS", "NetApp SnapDrive web service (HTTPS)"),
)
PROFILES = ("Domain", "Private", "Public", "Any")


def wanted_rules(ports, profile):
    """The rule set from the module's options: ports {key: port or None (no rule)}."""
    if "Any" in profile and len(profile) > 1:
        raise SmhvError("INVALID_ARGUMENT", "profile: 'Any' cannot be combined with other profiles (got %s)." % ", ".join(profile))
    rules = []
    for key, name, display_name in RULES:
        port = ports.get(key)
        if port is not None and not 1 <= port <= 65535:
            raise SmhvError("INVALID_ARGUMENT", "%s_port: %s is not a TCP port (1-65535)." % (key, port))
        rules.append({"key": key, "name": name, "display_name": display_name, "port": port,
                      "profile": ", ".join(sorted(profile))})
    return rules


def _ports(record):
    return sorted(record["local_ports"]) if record else None


def _describe(record):
    if record is None:
        return "missing"
    state = "TCP %s" % ",".join(record["local_ports"])
    if not record["enabled"]:
        state += " (disabled)"
    return state


def ensure_firewall_ports(scope_name, winrm_options, host_addresses, ports, profile, state, check_mode):
    rules = wanted_rules(ports, profile)
    with Scope(scope_name, winrm_options, host_addresses) as scope:
        plans = {}
        for rule in rules:
            present = state == "present" and rule["port"] is not None
            args = {"name": rule["name"], "state": "present" if present else "absent"}
            if present:
                args.update(display_name=rule["display_name"], description=DESCRIPTION, profile=rule["profile"],
                            ports=[rule["port"]])
            # Check mode first, on every node: what each node has now and whether it must change.
            plans[rule["name"]] = (args, scope.call_all("firewall_rule_ensure", {n: args for n in scope.nodes}, True))
        drift, actions, node_reports = [], [], {n: [] for n in scope.nodes}
        for rule in rules:
            args, answers = plans[rule["name"]]
            seen = dict((node, _ports(answers[node].result["before"])) for node in scope.nodes)
            if scope.kind == "cluster" and len(set(tuple(v) if v else None for v in seen.values())) > 1:
                drift.append({"rule": rule["name"], "ports_by_node": seen})
            for node in scope.nodes:
                before = answers[node].result["before"]
                changed = answers[node].changed
                if changed:
                    if args["state"] == "absent":
                        verb = "remove rule %s (%s)" % (rule["name"], _describe(before))
                    elif before is None:
                        verb = "create rule %s (TCP %s, %s)" % (rule["name"], rule["port"], rule["profile"])
                    else:
                        verb = "update rule %s: %s -> TCP %s, enabled, %s" % (rule["name"], _describe(before), rule["port"], rule["profile"])
                    actions.append("%s: %s" % (node, verb))
                node_reports[node].append({"name": rule["name"], "display_name": rule["display_name"], "state": args["state"],
                                           "ports_before": _ports(before), "changed": changed, "before": before,
                                           "after": answers[node].result["after"]})
        if actions and not check_mode:
            for rule in rules:
                args, answers = plans[rule["name"]]
                todo = [n for n in scope.nodes if answers[n].changed]
                if not todo:
                    continue
                applied = scope.call_all("firewall_rule_ensure", {n: args for n in todo}, False, nodes=todo)
                for node in todo:
                    entry = next(e for e in node_reports[node] if e["name"] == rule["name"])
                    entry["after"] = applied[node].result["after"]
        for reports in node_reports.values():
            for entry in reports:
                entry["ports"] = _ports(entry.pop("after"))
                entry.pop("before")
        return {
            "changed": bool(actions),
            "actions": actions,
            "scope": scope_name,
            "kind": scope.kind,
            "drift": drift,
            "nodes": [{"name": node, "rules": node_reports[node]} for node in scope.nodes],
        }
