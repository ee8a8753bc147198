"""smhv_failover on the lab (real WinRM and ONTAP REST): an unplanned failover of hv03's VMs to the DR host hvdr01 with site A
down (its ONTAP cluster and its hosts drop every request).

Backup 1 was replicated (SnapMirror update) with the guests' data 'before'; the data then changed to 'after' and backup 2
was taken without a mirror update, then the SnapInfo mirror was updated (site B's catalog knows backup 2, its volumes do
not have its snapshot). So the recovery point is backup 1, and every VM must come up on hvdr01 with 'before'.
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite
from e2e.restore_support import leftovers, read, write

SNAPINFO = "S:\\SnapInfo"
DATA = "C:\\data\\ledger.txt"
VMS = ["vm-file01", "vm-file02", "vm-print01"]
PATH_MAP = {"J:\\": "K:\\", "K:\\": "L:\\"}
LUNS = [{"lun": "/vol/vol_hv03_dr/lun_j", "access_path": "J:\\"}, {"lun": "/vol/vol_hv03_dr/lun_k", "access_path": "K:\\"}]
SITE_A_HOSTS = "hv01|hv02|hv03"


def site_a_down(lab):
    """Every request to site A's ONTAP cluster, Hyper-V hosts and their agents is dropped (the lab's POST /site); the fault
    rules' ids, to count what reached them."""
    down = lab.control("POST", "/site", {"site": "a", "state": "down"})
    assert down["clusters"] == ["cluster-a"] and down["hosts"] == SITE_A_HOSTS.split("|")
    return down["rules"]


def seen(lab, ids):
    return sum(rule["seen"] for rule in lab.control("GET", "/faults")["rules"] if rule["id"] in ids)


def params(site, lab, **changes):
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    values = dict(site.common, hyperv_host="hvdr01", action="failover", mode="unplanned", source_scope="hv03", dr_storage_systems=["127.0.0.1:%d" % port],
                  snapinfo_path=SNAPINFO, snapinfo_lun=None, report_path="C:\\SMHV\\Reports", vms=None, datasets=None, backup=None,
                  path_map=PATH_MAP, luns=LUNS, start=True, start_order=[{"vms": ["vm-print01"], "wait_seconds": 1}], lease_ttl=1800,
                  drill_suffix="-drill", drill_check_timeout=300, drill_switch=None, final_backup=True)
    values.update(changes)
    return values


def differences(before, after, where=""):
    """Paths where two /state documents differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += differences(before.get(key), after.get(key), "%s/%s" % (where, key))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [item for index, pair in enumerate(zip(before, after)) for item in differences(pair[0], pair[1], "%s[%d]" % (where, index))]
    return [] if before == after else ["%s: %r -> %r" % (where, before, after)]


def registered(lab, host):
    return sorted((vm["name"], vm["id"], vm["state"]) for vm in lab.state()["hosts"][host]["vms"])


def prepare(lab):
    """Backups 1 (replicated) and 2 (not), SnapInfo mirrored after 2, hvdr01's iSCSI service running (what the DR readiness
    check asks for), then site A lost: hv03's VMs are gone with it and its endpoints drop every request."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "dr", VMS)
    for vm in VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    first = site.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    for vm in VMS:
        write(lab, vm, DATA, "%s: after" % vm)
    time.sleep(1.1)  # backup names carry the second
    second = site.backup("hv03", "dr", backup_method="checkpoint")
    assert second["backup"]["status"] == "ok", second
    storage = site.storage()
    (snapinfo_mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_snapinfo_dr")
    storage.snapmirror.update(snapinfo_mirror)
    site.first, site.second = first["backup"]["name"], second["backup"]["name"]
    site.ids = site.vm_ids("hv03", VMS)
    with site.session("hvdr01") as session:
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": sorted(site.ids.values()), "turn_off": True})
        session.owner.call("vm_remove", {"ids": sorted(site.ids.values())})
    site.down = site_a_down(lab)
    return site


def assert_failed_over(site, lab):
    vms = [vm for vm in registered(lab, "hvdr01") if vm[0] in VMS]
    assert vms == sorted((name, site.ids[name], "Running") for name in VMS)  # each once, same id, running
    for vm in VMS:
        assert read(lab, vm, DATA) == ("%s: before" % vm, True)
    mirrors = {m["destination"]: m["state"] for m in lab.state()["ontap"]["cluster-b"]["snapmirrors"]}
    assert mirrors["svm_dr:vol_hv03_dr"] == "broken_off" and mirrors["svm_dr:vol_snapinfo_dr"] == "broken_off"
    assert mirrors["svm_dr:vol_csv1_dr"] == "snapmirrored"  # not hv03's: untouched
    assert leftovers(lab) == [] and "smhv_drplan_" not in str(lab.state())


@pytest.fixture(scope="module")
def failed_over(lab):
    site = prepare(lab)
    before = lab.state()
    site.planned = smhv_failover.run(params(site, lab), True)
    site.state_changes = differences(before, lab.state())
    site.calls_to_a = seen(lab, site.down)
    # rules that never fire (nth out of reach) and count the imports hvdr01 is asked for
    site.imports = {op: lab.control("POST", "/faults", {"target": "agent", "kind": "delay", "nth": 10 ** 6, "match": {"host": "hvdr01", "op": op}})["id"]
                    for op in ("vm_import", "vm_import_batch")}
    started = time.monotonic()
    site.result = smhv_failover.run(params(site, lab), False)
    site.seconds = time.monotonic() - started
    site.calls_to_a = seen(lab, site.down) - site.calls_to_a
    site.imports = {op: seen(lab, [rule]) for op, rule in site.imports.items()}
    yield site
    lab.control("DELETE", "/faults")


def test_check_mode_changes_nothing_and_plans_the_whole_failover(failed_over):
    planned = failed_over.planned
    assert failed_over.state_changes == []
    assert planned["changed"] is True and planned["rpo_seconds"] > 0
    plan = planned["plan"]
    (point,) = plan["recovery_points"]
    assert point["backup"] == failed_over.first and [s["backup"] for s in point["newer_skipped"]] == [failed_over.second]
    assert plan["snapinfo"]["action"] == "restore" and plan["snapinfo"]["snapshot"].startswith("smhv_snapinfo_hv03_")
    assert [(m["destination"], m["action"]) for m in plan["mirrors"]] == [("cluster-b:svm_dr:vol_hv03_dr", "break")]
    assert [(lun["lun"], lun["access_path"], lun["restore"], lun["snapshot"]) for lun in plan["luns"]] == [
        ("cluster-b:/vol/vol_hv03_dr/lun_j", "K:\\", "lun", failed_over.first),
        ("cluster-b:/vol/vol_hv03_dr/lun_k", "L:\\", "lun", failed_over.first)]
    assert sorted((vm["name"], vm["action"], vm["config_path"][:3]) for vm in plan["vms"]) == [
        ("vm-file01", "restore", "K:\\"), ("vm-file02", "restore", "K:\\"), ("vm-print01", "restore", "L:\\")]
    assert plan["start_groups"][0] == {"vms": ["vm-print01"], "wait_seconds": 1}
    assert all(vm["outcome"] == "planned" for vm in planned["vms"])


def test_unplanned_failover_brings_every_vm_up_with_the_recovery_point(failed_over, lab):
    result = failed_over.result
    assert_failed_over(failed_over, lab)
    assert failed_over.calls_to_a == 0  # nothing on the path asked site A
    assert result["changed"] and not result["resumed"]
    assert sorted((vm["name"], vm["outcome"], vm["state"]) for vm in result["vms"]) == [
        (name, "restored", "Running") for name in VMS]
    phases = ["discover", "snapinfo", "plan", "break", "snaprestore", "connect", "restore", "start"]
    assert [p["phase"] for p in result["rto"]["phases"]] == phases
    # every VM registered in place from its LUNs, brought to the recovery point by snaprestore, in one agent call
    assert failed_over.imports == {"vm_import": 0, "vm_import_batch": 1}
    assert sorted((vm["name"], [(lun["lun"], lun["method"], lun["snapshot"]) for lun in vm["luns"]]) for vm in result["vms"]) == [
        ("vm-file01", [("cluster-b:/vol/vol_hv03_dr/lun_j", "in_place", failed_over.first)]),
        ("vm-file02", [("cluster-b:/vol/vol_hv03_dr/lun_j", "in_place", failed_over.first)]),
        ("vm-print01", [("cluster-b:/vol/vol_hv03_dr/lun_k", "in_place", failed_over.first)])]
    assert result["recovery_points"][0]["backup"] == failed_over.first and result["rpo_seconds"] >= 1


def test_the_dr_scope_lists_the_vms_in_its_backups(failed_over):
    """SMHV's Get-VMsFromBackup on the DR host once the SnapInfo is there: smhv_backup_info's vms_in_backups."""
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.info import backup_info
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
    with Scopes(failed_over.common["winrm"], failed_over.common["host_addresses"]) as scopes:
        info = backup_info(scopes, None, "hvdr01", gather=["vms_in_backups", "backups"])
    assert sorted((vm["name"], vm["vm_id"], tuple(vm["datasets"])) for vm in info["vms_in_backups"]) == sorted(
        (name, failed_over.ids[name], ("dr",)) for name in VMS)
    assert [backup["name"] for backup in info["backups"]] == [failed_over.first, failed_over.second]


def test_check_mode_plan_is_what_the_run_did(failed_over):
    assert failed_over.planned["plan"] == failed_over.result["plan"]
    assert failed_over.planned["actions"] == failed_over.result["actions"]


def test_a_second_failover_changes_nothing(failed_over, lab):
    again = smhv_failover.run(params(failed_over, lab), False)
    assert again["changed"] is False, again["actions"]
    assert all(vm["outcome"] == "present" for vm in again["vms"])
    assert_failed_over(failed_over, lab)


def test_unplanned_without_dr_storage_systems_refuses(failed_over, lab):
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(params(failed_over, lab, dr_storage_systems=None), True)
    assert error.value.code == "INVALID_ARGUMENT" and "dr_storage_systems" in error.value.message


FAULTS = {
    # phase: the fault rule that stops the first run there
    "snapinfo": {"target": "ontap", "kind": "http_error", "match": {
        "cluster": "cluster-b", "method": "POST", "path": "/api/private/cli/volume/snapshot/restore-file"}},
    "break": {"target": "ontap", "kind": "http_error", "nth": 3, "match": {"cluster": "cluster-b", "method": "PATCH",
                                                                           "path": "/api/snapmirror/relationships/.*"}},
    "snaprestore": {"target": "ontap", "kind": "http_error", "nth": 3, "match": {
        "cluster": "cluster-b", "method": "POST", "path": "/api/private/cli/volume/snapshot/restore-file"}},
    "connect": {"target": "agent", "kind": "agent_error", "nth": 2, "match": {"host": "hvdr01", "op": "disk_connect"}},
    "restore": {"target": "agent", "kind": "drop", "match": {"host": "hvdr01", "op": "vm_import_batch"}},  # every VM imported, answer lost
    "start": {"target": "agent", "kind": "agent_error", "match": {"host": "hvdr01", "op": "vm_start"}},
}


@pytest.mark.parametrize("phase", sorted(FAULTS))
def test_a_fault_in_each_phase_then_a_rerun_finishes_it(lab, phase):
    site = prepare(lab)
    lab.control("POST", "/faults", dict(FAULTS[phase], times=1))
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(params(site, lab), False)
    assert error.value.details["phase"] == phase, error.value
    if phase != "snapinfo":  # the journal lives in the restored SnapInfo
        assert "run smhv_failover again" in error.value.message and error.value.details["journal"].startswith("failover~")
    again = smhv_failover.run(params(site, lab), False)
    assert again["changed"] and again["resumed"] == (phase != "snapinfo")
    assert_failed_over(site, lab)
    assert seen(lab, site.down) == 0
    with site.session("hvdr01") as session:
        journals = session.owner.call("file_list", {"path": SNAPINFO + "\\smhv\\v1\\journals"}).result["entries"]
    assert journals == []  # closed
    lab.control("DELETE", "/faults")


def vhdx_text(site, folder):
    """A VM's virtual disk as hvdr01 reads it (the lab's VHDX holds its guest files as text)."""
    with site.session("hvdr01") as session:
        (vhdx,) = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                   if item["path"].lower().endswith(".vhdx")]
        return session.owner.call("file_read", {"paths": [vhdx]}).result["files"][0]["content"]


def test_planned_failover_loses_nothing_written_before_the_final_backup(lab):
    """Site A up: the module takes the final backup (mirror updated), shuts the VMs down at hv03, updates the mirrors once
    more and fails over; the DR host's VMs hold what the guests wrote last, which no earlier backup had."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "dr", VMS)
    for vm in VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    first = site.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    for vm in VMS:
        write(lab, vm, DATA, "%s: last words" % vm)
    with site.session("hvdr01") as session:
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
    ids = site.vm_ids("hv03", VMS)
    time.sleep(1.1)
    planned = smhv_failover.run(params(site, lab, mode="planned", final_backup=True), True)
    assert planned["actions"][0] == "back up dataset dr on hv03 with SnapMirror update (the final backup)"
    result = smhv_failover.run(params(site, lab, mode="planned", final_backup=True), False)
    (final,) = result["prepared"]["final_backups"]
    assert result["mode"] == "planned" and result["recovery_points"][0]["backup"] == final != first["backup"]["name"]
    assert sorted(result["prepared"]["stopped"]) == VMS
    at_a = {vm["name"]: vm["state"] for vm in lab.state()["hosts"]["hv03"]["vms"] if vm["name"] in VMS}
    assert at_a == {name: "Off" for name in VMS}  # shut down at the primary, still registered there
    at_b = sorted((vm["name"], vm["id"], vm["state"]) for vm in lab.state()["hosts"]["hvdr01"]["vms"])
    assert at_b == sorted((name, ids[name], "Running") for name in VMS)
    for name in VMS:
        (vm,) = [vm for vm in result["plan"]["vms"] if vm["name"] == name]
        text = vhdx_text(site, vm["config_path"].split("\\Virtual Machines\\")[0])
        assert "%s: last words" % name in text and "%s: before" % name not in text
    again = smhv_failover.run(params(site, lab, mode="planned", final_backup=True), False)
    assert again["changed"] is False and again["prepared"] is None  # a second run touches the primary no more


def test_a_planned_failover_refuses_to_shut_down_the_controllers_own_vm_and_changes_nothing(lab):
    """Issue 22's self-management guard in the DR operations: vm-print01's adapter has 127.0.0.1 (the address the controller
    reaches the lab's hosts from), so the planned failover, whose shutdown would stop it, refuses with CONTROLLER_VM in its
    plan, in check mode and for real, before the final backup: the lab's state is the same after both."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "dr", VMS)
    first = site.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    lab.control("POST", "/vm", {"vm": "vm-print01", "ip_addresses": ["127.0.0.1"]})
    try:
        before = lab.state()
        for check_mode in (True, False):
            with pytest.raises(SmhvError) as error:
                smhv_failover.run(params(site, lab, mode="planned", final_backup=True), check_mode)
            assert error.value.code == "CONTROLLER_VM", error.value.message
            assert error.value.details["vm"] == "vm-print01" and error.value.details["addresses"] == ["127.0.0.1"]
            assert error.value.details["phase"] == "prepare" and "planned failover's shutdown" in error.value.message
            assert differences(before, lab.state()) == []  # no final backup, no shutdown, nothing at the DR site
    finally:
        lab.control("POST", "/vm", {"vm": "vm-print01", "ip_addresses": []})


def test_readiness_says_what_is_missing_and_changes_nothing(lab):
    """Before a failover: the DR host's iSCSI service is stopped (the default lab's hvdr01), then started; a mirror broken by
    hand fails the relationships check; nothing changes."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "dr", VMS)
    assert site.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)["backup"]["status"] == "ok"
    before = lab.state()
    report = smhv_failover.run(params(site, lab, action="readiness", max_lag_seconds=None), False)
    assert differences(before, lab.state()) == []
    checks = {check["check"]: check for check in report["checks"]}
    assert report["changed"] is False and report["ready"] is False
    assert not checks["initiator"]["ok"] and "MSiSCSI service Stopped" in checks["initiator"]["detail"]
    assert checks["snapinfo_mirror"]["ok"] and "smhv_snapinfo_hv03_" in checks["snapinfo_mirror"]["detail"]
    assert checks["relationships"]["ok"] and checks["access_paths"]["ok"] and "K:, L:, S:" in checks["access_paths"]["detail"]
    assert len(report["relationships"]) == 4 and "D:" in report["free_drive_letters"]
    with site.session("hvdr01") as session:
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
    assert smhv_failover.run(params(site, lab, action="readiness", max_lag_seconds=None), False)["ready"] is True
    storage = site.storage()
    (mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_csv1_dr")
    storage.snapmirror.quiesce(mirror)
    report = smhv_failover.run(params(site, lab, action="readiness", max_lag_seconds=None), False)
    checks = {check["check"]: check for check in report["checks"]}
    assert report["ready"] is False and "cluster-b:svm_dr:vol_csv1_dr is paused" in checks["relationships"]["detail"]


def test_the_dr_failover_playbook_checks_plans_and_fails_over(lab, tmp_path):
    from e2e.test_fleet_playbooks import playbook
    site = prepare(lab)
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    extra = {"smhv_source_scope": "hv03", "smhv_dr_host": "hvdr01", "smhv_dr_storage_systems": ["127.0.0.1:%d" % port],
             "smhv_snapinfo_path": SNAPINFO, "smhv_luns": LUNS, "smhv_path_map": PATH_MAP}
    planned = playbook(lab, tmp_path, "dr_failover.yml", extra)
    assert site.first in planned and "Fail over" in planned and registered(lab, "hvdr01") == []  # not confirmed: plan only
    done = playbook(lab, tmp_path, "dr_failover.yml", dict(extra, smhv_confirm=True))
    assert "vm-file01 restored Running" in done
    assert_failed_over(site, lab)
    assert seen(lab, site.down) == 0
    lab.control("DELETE", "/faults")


def test_a_cluster_scope_fails_over_to_the_standalone_dr_host_from_single_lun_volumes(lab):
    """hvclus01's VMs on CSVs (one LUN per volume) to hvdr01 at drive letters: each destination volume holds one LUN, so the
    plan says volume SnapRestore; ONTAP keeps the broken relationship's base, so the LUN is restored alone (a warning)."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    cluster_vms = ["vm-web01", "vm-app02"]
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", cluster_vms)
    for vm in cluster_vms:
        write(lab, vm, DATA, "%s: before" % vm)
    backup = site.backup("hvclus01", "web", backup_method="checkpoint", update_snapmirror=True)
    assert backup["backup"]["status"] == "ok", backup
    for vm in cluster_vms:
        write(lab, vm, DATA, "%s: after" % vm)
    storage = site.storage()
    for mirror in storage.snapmirror.find(destination_path=["svm_dr:vol_csv1_dr", "svm_dr:vol_csv2_dr"]):
        storage.snapmirror.update(mirror)  # the mirrors' active file system holds 'after'; the backup's snapshot 'before'
    ids = site.vm_ids("hvclus01", cluster_vms)
    with site.session("hvdr01") as session:
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
    down = site_a_down(lab)
    path_map = {"C:\\ClusterStorage\\Volume1": "M:\\", "C:\\ClusterStorage\\Volume2": "N:\\"}
    result = smhv_failover.run(params(site, lab, source_scope="hvclus01", path_map=path_map, luns=None, start_order=None), False)
    assert seen(lab, down) == 0
    assert sorted((lun["lun"], lun["access_path"], lun["restore"]) for lun in result["plan"]["luns"]) == [
        ("cluster-b:/vol/vol_csv1_dr/csv1", "M:\\", "volume"), ("cluster-b:/vol/vol_csv2_dr/csv2", "N:\\", "volume")]
    assert len([w for w in result["warnings"] if "restored as a whole" in w]) == 2
    at_b = sorted((vm["name"], vm["id"], vm["state"]) for vm in lab.state()["hosts"]["hvdr01"]["vms"])
    assert at_b == sorted((name, ids[name], "Running") for name in cluster_vms)
    for vm in result["plan"]["vms"]:
        text = vhdx_text(site, vm["config_path"].split("\\Virtual Machines\\")[0])
        assert "%s: before" % vm["name"] in text and "%s: after" % vm["name"] not in text
    lab.control("DELETE", "/faults")


def test_site_a_hanging_costs_a_bounded_timeout_and_comes_back(lab):
    """POST /site how=hang: site A's cluster holds every request; a client with a 2-second timeout gives up after it with
    STORAGE_UNREACHABLE (so an unplanned failover that asked it would wait that long per request, which is why it does not
    ask); the site up again, it answers."""
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
    site = LabSite(lab)
    systems = [dict(system, timeout=2) for system in site.common["storage_systems"]
               if system["port"] == lab.endpoints["ontap"]["cluster-a"]["port"]]
    lab.control("POST", "/site", {"site": "a", "state": "down", "how": "hang", "seconds": 6})
    started = time.monotonic()
    with pytest.raises(SmhvError) as error:
        StorageClient(systems).clusters()
    assert error.value.code == "STORAGE_UNREACHABLE" and "timed out" in error.value.message.lower()
    assert time.monotonic() - started < 20  # netapp-ontap retries a timed-out request: about 12 s at a 2-second timeout
    assert lab.control("POST", "/site", {"site": "a", "state": "up"})["stopped_rules"]
    time.sleep(6)  # the held requests end
    assert [identity.name for identity in StorageClient(systems).clusters()] == ["cluster-a"]
    lab.control("DELETE", "/faults")


def test_a_vm_on_a_lun_an_earlier_failover_restored_is_copied_from_its_snapshot(lab):
    """vm-file01 fails over alone first, then the other two: vm-file02 shares vm-file01's LUN, which the second failover does
    not SnapRestore (vm-file01 runs on it, though the second failover does not name it), so vm-file02's files there are as the
    first failover left them (changed here in between) and the restore engine copies them from a clone at the snapshot;
    vm-print01's LUN is restored and it is registered in place."""
    site = prepare(lab)
    first = smhv_failover.run(params(site, lab, vms=["vm-file01"], start_order=None), False)
    assert [(vm["name"], vm["outcome"], [lun["method"] for lun in vm["luns"]]) for vm in first["vms"]] == [("vm-file01", "restored", ["in_place"])]
    folder = "K:\\vm-file02"
    with site.session("hvdr01") as session:
        (vhdx,) = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                   if item["path"].lower().endswith(".vhdx")]
        text = vhdx_text(site, folder)
        assert "vm-file02: before" in text
        session.owner.call("file_write", {"path": vhdx, "content": text.replace("vm-file02: before", "vm-file02: stale")})
    others = ["vm-file02", "vm-print01"]
    planned = smhv_failover.run(params(site, lab, vms=others, start_order=None), True)
    second = smhv_failover.run(params(site, lab, vms=others, start_order=None), False)
    assert planned["actions"] == second["actions"] and planned["plan"] == second["plan"]
    assert [action.split(" (", maxsplit=1)[0] for action in second["actions"] if "VM vm-" in action] == [
        "restore VM vm-file02", "register VM vm-print01"]
    assert [(lun["lun"], lun["restore"]) for lun in second["plan"]["luns"]] == [
        ("cluster-b:/vol/vol_hv03_dr/lun_j", "none"), ("cluster-b:/vol/vol_hv03_dr/lun_k", "lun")]
    assert sorted((vm["name"], vm["outcome"], [lun["method"] for lun in vm["luns"]]) for vm in second["vms"]) == [
        ("vm-file02", "restored", ["file_copy"]), ("vm-print01", "restored", ["in_place"])]
    assert_failed_over(site, lab)  # each once, running, the recovery point's data: vm-file02's copied back over 'stale'
    assert seen(lab, site.down) == 0
    lab.control("DELETE", "/faults")
