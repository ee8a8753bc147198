# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SnapDrive-free prerequisites on every node of a scope (hyperv-domain.md §2.2 and §4; smhv_prerequisites).

Without SnapDrive the collection needs on each host: the Hyper-V and failover-clustering PowerShell
modules (checkpoints, VM registration, cluster roles), Multipath-IO with the Microsoft DSM claiming
ONTAP LUNs (vendor NETAPP, product "LUN C-Mode"), and the iSCSI initiator service starting
automatically. MPIO and its claim take effect after a restart, which this engine does one node at a
time (reboot=if_required) or leaves to the administrator (reboot=never).
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.common import Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.package import SUPPORTED_VERSIONS

BASE_FEATURES = ["Hyper-V-PowerShell", "Multipath-IO"]
CLUSTER_FEATURES = ["RSAT-Clustering-PowerShell"]
MPIO_VENDOR = "NETAPP"
MPIO_PRODUCT = "LUN C-Mode"
ISCSI_SERVICE = "MSiSCSI"


def ensure_prerequisites(scope_name, winrm_options, host_addresses, features, mpio_claim, iscsi, reboot, reboot_timeout,
                         check_mode):
    actions, warnings, timings = [], [], {}
    with Scope(scope_name, winrm_options, host_addresses) as scope:
        wanted = list(features) if features is not None else BASE_FEATURES + (CLUSTER_FEATURES if scope.kind == "cluster" else [])
        args = {"features": wanted, "services": [ISCSI_SERVICE] if iscsi else []}
        if mpio_claim:
            args.update(mpio_vendor_id=MPIO_VENDOR, mpio_product_id=MPIO_PRODUCT)
        planned = scope.call_all("prerequisites_ensure", dict((n, args) for n in scope.nodes), True)
        outcome = dict((n, planned[n].result) for n in scope.nodes)
        for node in scope.nodes:
            plan = planned[node].result
            for feature in plan["features"]:
                if not feature["installed_before"]:
                    actions.append("%s: install Windows feature %s" % (node, feature["name"]))
            if plan["mpio"] and not plan["mpio"]["claimed_before"]:
                actions.append("%s: claim %s %s LUNs for the Microsoft DSM (MPIO)" % (node, MPIO_VENDOR, MPIO_PRODUCT))
            for service in plan["services"]:
                if service["start_type_before"] != "Automatic":
                    actions.append("%s: set service %s to start automatically" % (node, service["name"]))
                if service["status_before"] != "Running":
                    actions.append("%s: start service %s" % (node, service["name"]))
        todo = [n for n in scope.nodes if planned[n].changed]
        if todo and not check_mode:
            applied = scope.call_all("prerequisites_ensure", dict((n, args) for n in todo), False, nodes=todo)
            for node in todo:
                outcome[node] = applied[node].result
                warnings.extend("%s: %s" % (node, w) for w in applied[node].warnings)
        restart = [n for n in scope.nodes if outcome[n]["restart_needed"] or (n in todo and check_mode and _needs_restart(outcome[n]))]
        for node in restart:
            if reboot == "if_required":
                actions.append("%s: restart and wait for it to come back" % node)
                if not check_mode:
                    timings[node] = scope.reboot(node, reboot_timeout, "netapp_hyperv.smhv: Multipath-IO")
            else:
                warnings.append("%s needs a restart for Multipath-IO and its claim to take effect (reboot=never; with the smhv_install "
                                "role or the fleet_install.yml playbook, smhv_install_reboot=if_required restarts it)." % node)
        nodes = []
        for node in scope.nodes:
            os_info = scope.node_os(node)
            nodes.append(dict(outcome[node], name=node, os=os_info["release"], build=os_info["build"],
                              smhv_supported=scope.facts[node]["os"]["version"] in SUPPORTED_VERSIONS,
                              part_of_domain=scope.facts[node]["part_of_domain"]))
        result = {"changed": bool(actions), "actions": actions, "warnings": warnings, "scope": scope_name, "kind": scope.kind,
                  "nodes": nodes, "smhv_supported": all(n["smhv_supported"] and n["part_of_domain"] for n in nodes)}
        if timings:
            result["timings"] = {"reboot_seconds": timings}
        return result


def _needs_restart(plan):
    """Check mode: would applying this plan need a restart (a new MPIO feature or claim)?"""
    mpio_feature = any(f["name"] == "Multipath-IO" and not f["installed_before"] for f in plan["features"])
    return mpio_feature or bool(plan["mpio"] and not plan["mpio"]["claimed_before"])
