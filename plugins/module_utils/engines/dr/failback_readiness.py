# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smhv_failback action=readiness: whether a failback can start, changing nothing. Each check has `ok` and `detail`; a
host or cluster that does not answer fails its check instead of the task, so the report says which site is missing.

    primary_host, dr_host          each answers over WinRM
    primary_storage, dr_storage    each site's clusters answer
    relationships                  every volume of the round trip is failed over (A -> B broken) or further on, and healthy
    vms_at_dr                      the DR host runs VMs of its datasets from the round trip's LUNs
    primary_paths                  the mount points the primary's LUNs go to are free, or held by those same LUNs
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import RoundTrip, RoundTripStorage, public_entry, vms_on
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planned import PrimarySite
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.site import dr_systems as select_systems
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import path_pairs
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession


def site_systems(storage_systems, primary_storage_systems, dr_storage_systems):
    """(primary systems, DR systems) of storage_systems: dr_storage_systems names the DR site's, primary_storage_systems
    the primary's (default: the rest). Both sites are needed."""
    if not dr_storage_systems:
        raise SmhvError("INVALID_ARGUMENT", "Failback talks to both sites: name the DR site's entries of storage_systems in dr_storage_systems "
                        "(hostname or hostname:port).", {"storage_systems": [s["hostname"] for s in storage_systems or []]})
    at_dr = select_systems(storage_systems, dr_storage_systems, False)
    if primary_storage_systems:
        at_primary = select_systems(storage_systems, primary_storage_systems, False)
    else:
        at_primary = [system for system in storage_systems or [] if system not in at_dr]
    if not at_primary:
        raise SmhvError("INVALID_ARGUMENT", "storage_systems has no entry for the primary site: every entry is in dr_storage_systems.",
                        {"dr_storage_systems": list(dr_storage_systems)})
    return at_primary, at_dr


def _check(checks, name, ok, detail):
    checks.append({"check": name, "ok": bool(ok), "detail": detail})
    return ok


def _open(checks, name, params, host):
    try:
        session = ScopeSession(host, params["winrm"], params["host_addresses"])
    except SmhvError as error:
        _check(checks, name, False, "%s does not answer: %s" % (host, error.message))
        return None
    _check(checks, name, True, "%s answers (%s)" % (session.name, session.kind))
    return session


def _clusters(checks, name, systems):
    storage = RoundTripStorage(systems)
    answered, failed = storage.reachable_clusters()
    names = [identity.name for identity in answered]
    ok = bool(answered) and not failed
    _check(checks, name, ok, "answer: %s%s" % (", ".join(names) or "none", "; not answering: %s" % "; ".join(
        error.message for error in failed) if failed else ""))
    return storage if ok else None


def check_failback_readiness(params, primary_systems, dr_systems):
    checks, mirrors, vms, free = [], [], [], []
    primary = _open(checks, "primary_host", params, params["hyperv_host"])
    dr = _open(checks, "dr_host", params, params["dr_host"])
    try:
        primary_storage = _clusters(checks, "primary_storage", primary_systems)
        dr_storage = _clusters(checks, "dr_storage", dr_systems)
        if primary and dr and primary_storage and dr_storage:
            trip = RoundTrip(primary, dr, primary_storage, dr_storage, params.get("primary_volumes"))
            entries = trip.survey("dr")
            mirrors = [public_entry(entry, "none") for entry in entries]
            bad = [e for e in entries if e["stage"] == "protected" or not e["healthy"]]
            _check(checks, "relationships", entries and not bad, "; ".join("%s -> %s: %s (%s)" % (
                e["primary_volume"], e["dr_volume"], e["stage"], e["state"]) for e in entries) or
                "no volume joins the DR host's LUNs to the primary site: nothing failed over to %s" % dr.name)
            roots = [lun["dr_access_path"] for e in entries for lun in e["luns"] if lun["dr_access_path"]]
            try:
                site = PrimarySite(dr, dr_storage)
                members = {vm_id: name for items in site.scope_vms(params.get("datasets"), params.get("vms")).values() for vm_id, name in items}
                vms = [{"id": vm["id"], "name": vm["name"], "state": vm["state"]} for vm in vms_on(dr, members)
                       if any((vm["config_path"] or "").lower().startswith(root.lower()) for root in roots)]
                _check(checks, "vms_at_dr", vms, ", ".join("%s %s" % (vm["name"], vm["state"]) for vm in vms) or "none on the round trip's LUNs")
            except SmhvError as error:
                _check(checks, "vms_at_dr", False, error.message)
            busy = _busy_paths(trip, path_pairs(params.get("path_map")))
            free = sorted(set(new for _old, new in trip.path_pairs(params.get("path_map"))) - set(busy))
            _check(checks, "primary_paths", not busy, "held by other disks: %s" % ", ".join(busy) if busy else "free or held by the same LUNs: %s"
                   % ", ".join(free))
    finally:
        for session in (primary, dr):
            if session is not None:
                session.close()
    return {"changed": False, "action": "readiness", "primary": params["hyperv_host"], "dr_host": params["dr_host"],
            "ready": all(check["ok"] for check in checks), "checks": checks, "mirrors": mirrors, "vms": vms, "actions": [],
            "warnings": [], "rto": {"total": 0, "phases": []}}


def _busy_paths(trip, given):
    """The primary mount points the failback would use that a disk other than the twin LUN holds."""
    twins = {}
    for entry in trip.entries:
        for lun in entry["luns"]:
            if lun["dr_access_path"]:
                twins[lun["dr_access_path"].lower()] = lun["primary_lun"].serial if lun["primary_lun"] else None
    busy = []
    for old, new in trip.path_pairs(dict(given)):
        for serial, disk in trip.primary_disks.items():
            if disk["online"] and any(path.lower().rstrip("\\") == new.lower().rstrip("\\") for path in disk["access_paths"]) \
                    and serial != twins.get(old.lower()):
                busy.append(new)
    return sorted(set(busy))
