# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hotfix compliance of every node of a scope, and installation from a share with controlled reboots.

`evaluate()` is pure (host_facts in, a report out) so the rules are unit-tested without a host. An
item is `ok`, `missing`, or `pending_reboot` (its update is installed but the host has not restarted
into the new build yet). `ensure_hotfixes()` installs the missing items' .msu files with wusa.exe and,
with reboot=if_required, restarts the nodes that need it one at a time, waiting for each to come back
(and, on a cluster, to rejoin) before touching the next, so a cluster never loses two nodes at once.
"""

from __future__ import annotations

import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.common import Scope, release_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.hotfix_data import MINIMUM_BUILDS, REQUIRED_KBS

KB_PATTERN = re.compile(r"^KB\d{6,8}$")


def normalize_kb(value):
    text = str(value).strip().upper()
    if text.isdigit():
        text = "KB" + text
    if not KB_PATTERN.match(text):
        raise SmhvError("INVALID_ARGUMENT", "%r is not a KB id (KB2770917 or 2770917)." % (value,))
    return text


def requirements(os_version, extra_kbs=(), exclude_kbs=(), minimum_builds=None):
    """What a host of this version must have: {release, kbs: [(kb, source)], build: {...} or None}."""
    builds = dict(MINIMUM_BUILDS)
    for version, override in (minimum_builds or {}).items():
        base = dict(builds.get(version, {"release": release_name(version), "title": "", "kb": None}))
        if not isinstance(override, dict) or "ubr" not in override:
            raise SmhvError("INVALID_ARGUMENT", "minimum_builds[%s] must be a dict with at least ubr." % version)
        base.update(override, ubr=int(override["ubr"]), source="minimum_builds option")
        builds[version] = base
    excluded = set(normalize_kb(kb) for kb in exclude_kbs)
    table = REQUIRED_KBS.get(os_version)
    kbs = [(kb, table["source"]) for kb in table["kbs"]] if table else []
    kbs += [(normalize_kb(kb), "extra_kbs option") for kb in extra_kbs]
    seen, unique = set(), []
    for kb, source in kbs:
        if kb not in seen and kb not in excluded:
            seen.add(kb)
            unique.append((kb, source))
    build = builds.get(os_version)
    if build is not None and build.get("kb") in excluded:
        build = dict(build, kb=None)
    return {"release": (table or build or {}).get("release") or release_name(os_version), "kbs": unique, "build": build}


def evaluate(node, facts, extra_kbs=(), exclude_kbs=(), minimum_builds=None):
    """One node's compliance report from its host_facts."""
    os_facts = facts["os"]
    need = requirements(os_facts["version"], extra_kbs, exclude_kbs, minimum_builds)
    installed = set(kb.upper() for kb in facts["hotfixes"])
    items = []
    for kb, source in need["kbs"]:
        items.append({"id": kb, "kind": "kb", "kb": kb, "title": "Hotfix %s" % kb, "source": source,
                      "status": "ok" if kb in installed else "missing"})
    build = need["build"]
    if build is not None:
        wanted = "%s.%s" % (os_facts["version"], build["ubr"])
        if os_facts["ubr"] >= build["ubr"]:
            status = "ok"
        elif build.get("kb") and build["kb"] in installed:
            status = "pending_reboot"
        else:
            status = "missing"
        title = "Build %s or later" % wanted
        if build.get("kb"):
            title += " (%s, %s)" % (build["kb"], build.get("title") or "cumulative update")
        items.append({"id": "build", "kind": "build", "kb": build.get("kb"), "title": title, "source": build["source"],
                      "status": status, "minimum": wanted})
    known = os_facts["version"] in REQUIRED_KBS or build is not None
    missing = [item["id"] for item in items if item["status"] == "missing"]
    pending = [item["id"] for item in items if item["status"] == "pending_reboot"]
    return {
        "name": node,
        "computer_name": facts["computer_name"],
        "release": need["release"],
        "os": os_facts["caption"],
        "build": "%s.%s" % (os_facts["version"], os_facts["ubr"]),
        "known_release": known,
        "requirements": items,
        "missing": missing,
        "pending_reboot": pending,
        "compliant": known and not missing and not pending,
    }


def ensure_hotfixes(scope_name, winrm_options, host_addresses, install, source, reboot, reboot_timeout,
                    extra_kbs, exclude_kbs, minimum_builds, check_mode):
    if install and not source:
        raise SmhvError("INVALID_ARGUMENT", "install=true needs source: the folder (a share such as \\\\fs01\\updates) "
                        "that holds the .msu files.")
    actions, warnings, timings = [], [], {}
    changed = False
    with Scope(scope_name, winrm_options, host_addresses) as scope:
        reports = dict((n, evaluate(n, scope.facts[n], extra_kbs, exclude_kbs, minimum_builds)) for n in scope.nodes)
        for node in scope.nodes:
            report = reports[node]
            if not report["known_release"]:
                warnings.append("%s runs %s (%s), which this module has no hotfix data for; it is reported as not compliant."
                                % (node, report["release"], report["build"]))
            if not install:
                continue
            kbs = [item["kb"] for item in report["requirements"] if item["status"] == "missing" and item["kb"]]
            unfixable = [item["title"] for item in report["requirements"] if item["status"] == "missing" and not item["kb"]]
            if unfixable:
                warnings.append("%s: no update is known that brings it to %s; install one by other means."
                                % (node, ", ".join(unfixable)))
            reboot_needed = bool(report["pending_reboot"])
            for kb in kbs:
                reply = scope.clients[node].call("hotfix_install", {"kb": kb, "source": source}, check_mode)
                outcome = reply.result["outcome"]
                if outcome in ("installed", "would_install"):
                    changed = True
                    actions.append("%s: install %s from %s" % (node, kb, reply.result["file"]))
                    reboot_needed = reboot_needed or reply.result["reboot_required"] or outcome == "would_install"
                elif outcome == "not_applicable":
                    warnings.append("%s: %s is not applicable to this host (wusa.exe says so); check the .msu file."
                                    % (node, kb))
            if not reboot_needed and not check_mode:
                reboot_needed = scope.clients[node].call("host_boot_info").result["reboot_pending"]
            if reboot_needed and reboot == "if_required":
                actions.append("%s: restart and wait for it to come back" % node)
                changed = True
                if not check_mode:
                    timings[node] = scope.reboot(node, reboot_timeout, "netapp_hyperv.smhv: hotfix installation")
            elif reboot_needed:
                warnings.append("%s needs a restart to complete its updates (reboot=never; with the smhv_hotfix role or the "
                                "hotfix_compliance.yml playbook, smhv_hotfix_reboot=if_required restarts it)." % node)
            if not check_mode and (kbs or node in timings):
                scope.refresh_facts([node])
                reports[node] = evaluate(node, scope.facts[node], extra_kbs, exclude_kbs, minimum_builds)
        hosts = [reports[n] for n in scope.nodes]
        result = {
            "changed": changed,
            "actions": actions,
            "warnings": warnings,
            "scope": scope_name,
            "kind": scope.kind,
            "hosts": hosts,
            "compliant": all(h["compliant"] for h in hosts),
            "summary": {"hosts": len(hosts), "compliant": sum(1 for h in hosts if h["compliant"]),
                        "missing": sum(len(h["missing"]) for h in hosts),
                        "pending_reboot": sum(len(h["pending_reboot"]) for h in hosts)},
        }
        if timings:
            result["timings"] = {"reboot_seconds": timings}
        return result
