"""smhv_failback on the lab (real WinRM and ONTAP REST), the whole round trip on the standalone topology: hv03's VMs are
backed up with SnapMirror update at site A, site A goes down, smhv_failover brings them up on hvdr01, new data is written
there, site A comes back, the failback brings every VM back to hv03 with site B's newest data, and reprotect cleans site B
and mirrors A -> B again, proved by a backup at A whose snapshot reaches B.
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failback, smhv_failover
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.restore_support import leftovers, read, write
from e2e.test_failover import DATA, SNAPINFO, VMS, differences, prepare, registered
from e2e.test_failover import params as failover_params

SITE_A, SITE_B = "cluster-a", "cluster-b"
ROUND_TRIP = {"svm_dr:vol_hv03_dr": "svm_hv:vol_hv03", "svm_dr:vol_snapinfo_dr": "svm_hv:vol_snapinfo"}


def params(site, lab, **changes):
    port = lab.endpoints["ontap"][SITE_B]["port"]
    values = dict(site.common, hyperv_host="hv03", dr_host="hvdr01", action="failback", snapinfo_path=SNAPINFO,
                  dr_storage_systems=["127.0.0.1:%d" % port], primary_storage_systems=None, vms=None, datasets=None, path_map=None,
                  rebuild=False, primary_volumes=None, start=True, start_order=None, prove=True, report_path="C:\\SMHV\\Reports",
                  lease_ttl=1800)
    values.update(changes)
    return values


def guest_text(site, host, config_path):
    """A VM's virtual disk as `host` reads it (the lab's VHDX holds its guest files as text): with the same VM on both sites
    the lab's guest-data call cannot tell them apart."""
    folder = config_path.split("\\Virtual Machines\\")[0]
    with site.session(host) as session:
        (vhdx,) = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                   if item["path"].lower().endswith(".vhdx")]
        return session.owner.call("file_read", {"paths": [vhdx]}).result["files"][0]["content"]


def mirrors(lab):
    """{(cluster, source, destination): state} of both sites' relationships."""
    return {(name, m["source"], m["destination"]): m["state"] for name in (SITE_A, SITE_B) for m in lab.state()["ontap"][name]["snapmirrors"]}


def failed_over_and_worked_at_b(lab):
    """After test_failover's prepare (site A down) an unplanned failover to hvdr01, new data at B, site A back."""
    site = prepare(lab)
    result = smhv_failover.run(failover_params(site, lab), False)
    assert result["changed"] and sorted(vm["name"] for vm in result["vms"]) == VMS
    for vm in VMS:
        write(lab, vm, DATA, "%s: written at B" % vm)
    lab.control("POST", "/site", {"site": "a", "state": "up"})
    lab.control("DELETE", "/faults")
    return site


@pytest.fixture(scope="module")
def round_trip(lab):
    site = failed_over_and_worked_at_b(lab)
    before = lab.state()
    site.planned = smhv_failback.run(params(site, lab), True)
    site.plan_changes = differences(before, lab.state())
    started = time.monotonic()
    site.failback = smhv_failback.run(params(site, lab), False)
    site.failback_seconds = time.monotonic() - started
    yield site
    lab.control("DELETE", "/faults")


def assert_back_at_a(site, lab):
    at_a = sorted(vm for vm in registered(lab, "hv03") if vm[0] in VMS)
    assert at_a == sorted((name, site.ids[name], "Running") for name in VMS)
    for vm in site.failback["plan"]["vms"]:
        text = guest_text(site, "hv03", vm["config_path"])
        assert "%s: written at B" % vm["name"] in text, text[-300:]


def test_check_mode_plans_the_whole_failback_and_changes_nothing(round_trip):
    planned = round_trip.planned
    assert round_trip.plan_changes == []
    assert planned["changed"] is True and planned["departure"] is None
    plan = planned["plan"]
    assert sorted((m["dr_volume"], m["primary_volume"], m["stage"], m["action"]) for m in plan["mirrors"]) == [
        ("cluster-b:svm_dr:vol_hv03_dr", "cluster-a:svm_hv:vol_hv03", "failed_over", "reverse_resync"),
        ("cluster-b:svm_dr:vol_snapinfo_dr", "cluster-a:svm_hv:vol_snapinfo", "failed_over", "reverse_resync")]
    assert plan["path_map"] == {"K:\\": "J:\\", "L:\\": "K:\\", "S:\\": "S:\\"}  # the mount points hv03 still has
    assert sorted((vm["name"], vm["action"], vm["config_path"][:3]) for vm in plan["vms"]) == [
        ("vm-file01", "fail back", "J:\\"), ("vm-file02", "fail back", "J:\\"), ("vm-print01", "fail back", "K:\\")]
    assert plan["shutdown"] == VMS and plan["final_backup"]["datasets"] == ["dr"]
    assert planned["actions"][0].startswith("reverse-resync SnapMirror cluster-a:svm_hv:vol_hv03 -> cluster-b:svm_dr:vol_hv03_dr")


def test_failback_brings_every_vm_back_with_site_b_newest_data(round_trip, lab):
    result = round_trip.failback
    assert result["changed"] and not result["resumed"]
    assert_back_at_a(round_trip, lab)
    assert sorted(result["departure"]["stopped"]) == VMS and len(result["departure"]["final_backups"]) == 1
    (point,) = result["recovery_points"]
    assert point["backup"] == result["departure"]["final_backups"][0]
    states = mirrors(lab)
    assert states[(SITE_A, "cluster-b:svm_dr:vol_hv03_dr", "svm_hv:vol_hv03")] == "broken_off"
    assert states[(SITE_A, "cluster-b:svm_dr:vol_snapinfo_dr", "svm_hv:vol_snapinfo")] == "broken_off"
    at_b = {vm[0]: vm[2] for vm in registered(lab, "hvdr01")}
    assert all(at_b[name] == "Off" for name in VMS)  # shut down cleanly, removed by reprotect
    assert leftovers(lab) == []


def test_check_mode_plan_is_what_the_failback_did(round_trip):
    assert round_trip.planned["plan"] == round_trip.failback["plan"]
    assert round_trip.planned["actions"] == round_trip.failback["actions"]


def test_a_second_failback_changes_nothing(round_trip, lab):
    again = smhv_failback.run(params(round_trip, lab), False)
    assert again["changed"] is False, (again["actions"], again["arrival"]["actions"])
    assert again["departure"] is None
    assert_back_at_a(round_trip, lab)


def test_reprotect_cleans_site_b_and_mirrors_a_to_b_again(round_trip, lab):
    planned = smhv_failback.run(params(round_trip, lab, action="reprotect"), True)
    assert planned["changed"] is True
    result = smhv_failback.run(params(round_trip, lab, action="reprotect"), False)
    assert result["plan"] == planned["plan"] and result["actions"] == planned["actions"]
    states = mirrors(lab)
    for destination, source in ROUND_TRIP.items():
        assert states[(SITE_B, "cluster-a:" + source, destination)] == "snapmirrored"
        assert (SITE_A, "cluster-b:" + destination, source) not in states
    (backup,) = result["proof"]["backups"]
    assert all(backup in volume["backups"] for volume in result["proof"]["volumes"] if volume["dr_volume"].endswith("vol_hv03_dr"))
    state = lab.state()
    assert [vm for vm in state["hosts"]["hvdr01"]["vms"] if vm["name"] in VMS] == []
    assert [disk for disk in state["hosts"]["hvdr01"]["disks"] if disk["access_paths"]] == []
    maps = [m for m in state["ontap"][SITE_B].get("lun_maps", []) if "hvdr01" in str(m)]
    assert maps == []
    assert "smhv_drill_" not in str(state) and "smhv_drplan_" not in str(state) and leftovers(lab) == []
    for vm in VMS:  # one VM of each name now: the lab reads it
        assert read(lab, vm, DATA) == ("%s: written at B" % vm, True)
    again = smhv_failback.run(params(round_trip, lab, action="reprotect"), False)
    assert again["changed"] is False and again["actions"] == []


def test_failback_refuses_when_nothing_failed_over(lab):
    from e2e.backup_support import LabSite
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    with pytest.raises(SmhvError) as error:
        smhv_failback.run(params(site, lab), True)
    assert error.value.code in ("FAILBACK_NOT_READY", "SCOPE_NOT_REGISTERED")


def journals(site, host, path=SNAPINFO):
    with site.session(host) as session:
        return [entry["name"] for entry in session.owner.call("file_list", {"path": path + "\\smhv\\v1\\journals"}).result["entries"]]


FAULTS = {
    # phase: the fault rule that stops the first failback there (DR site's phases, then the arrival's at the primary)
    "resync": {"target": "ontap", "kind": "http_error", "nth": 2, "match": {
        "cluster": SITE_B, "method": "PATCH", "path": "/api/snapmirror/relationships/.*"}},
    "shutdown": {"target": "agent", "kind": "agent_error", "match": {"host": "hvdr01", "op": "vm_stop"}},
    "final_update": {"target": "ontap", "kind": "http_error", "nth": 3, "match": {
        "cluster": SITE_A, "method": "POST", "path": "/api/snapmirror/relationships/.*/transfers"}},
    "snapinfo": {"target": "ontap", "kind": "http_error", "match": {
        "cluster": SITE_A, "method": "POST", "path": "/api/private/cli/volume/snapshot/restore-file"}},
    "break": {"target": "ontap", "kind": "http_error", "nth": 3, "match": {
        "cluster": SITE_A, "method": "PATCH", "path": "/api/snapmirror/relationships/.*"}},
    "connect": {"target": "agent", "kind": "agent_error", "nth": 2, "match": {"host": "hv03", "op": "disk_connect"}},
    "restore": {"target": "agent", "kind": "drop", "match": {"host": "hv03", "op": "vm_import_batch"}},  # every VM imported, answer lost
    "start": {"target": "agent", "kind": "agent_error", "match": {"host": "hv03", "op": "vm_start"}},
}


@pytest.mark.parametrize("phase", sorted(FAULTS))
def test_a_fault_in_each_phase_then_a_rerun_finishes_the_failback(lab, phase):
    site = failed_over_and_worked_at_b(lab)
    site.ids = dict(site.ids)
    lab.control("POST", "/faults", dict(FAULTS[phase], times=1))
    with pytest.raises(SmhvError) as error:
        smhv_failback.run(params(site, lab), False)
    assert error.value.details.get("phase") == phase, error.value
    lab.control("DELETE", "/faults")
    again = smhv_failback.run(params(site, lab), False)
    assert again["changed"]
    site.failback = again
    assert_back_at_a(site, lab)
    assert len([b for b in again["departure"]["final_backups"] if b]) <= 1 if again["departure"] else True
    assert journals(site, "hv03") == [] and journals(site, "hvdr01") == []
    assert smhv_failback.run(params(site, lab), False)["changed"] is False


def assert_reprotected(site, lab, result):
    states = mirrors(lab)
    for destination, source in ROUND_TRIP.items():
        assert states[(SITE_B, "cluster-a:" + source, destination)] == "snapmirrored"
        assert (SITE_A, "cluster-b:" + destination, source) not in states
    (backup,) = result["proof"]["backups"]
    (data,) = [volume for volume in result["proof"]["volumes"] if volume["dr_volume"].endswith(":vol_hv03_dr")]
    assert data["backups"] == [backup]
    state = lab.state()
    assert [vm for vm in state["hosts"]["hvdr01"]["vms"] if vm["name"] in VMS] == []
    assert [disk for disk in state["hosts"]["hvdr01"]["disks"] if disk["access_paths"]] == []
    assert [m for m in state["ontap"][SITE_B]["lun_maps"] if m["igroup"] == "smhv_hvdr01"] == []
    for vm in VMS:
        assert read(lab, vm, DATA) == ("%s: written at B" % vm, True)


REPROTECT_FAULTS = {
    "clean": {"target": "agent", "kind": "agent_error", "match": {"host": "hvdr01", "op": "vm_remove"}},
    "resync": {"target": "ontap", "kind": "http_error", "nth": 2, "match": {
        "cluster": SITE_A, "method": "PATCH", "path": "/api/snapmirror/relationships/.*"}},
    "prove": {"target": "ontap", "kind": "http_error", "match": {
        "cluster": SITE_B, "method": "POST", "path": "/api/snapmirror/relationships/.*/transfers"}},
}


@pytest.mark.parametrize("phase", sorted(REPROTECT_FAULTS))
def test_a_fault_in_each_phase_then_a_rerun_finishes_the_reprotect(lab, phase):
    site = failed_over_and_worked_at_b(lab)
    assert smhv_failback.run(params(site, lab), False)["changed"]
    lab.control("POST", "/faults", dict(REPROTECT_FAULTS[phase], times=1))
    with pytest.raises(SmhvError) as error:
        smhv_failback.run(params(site, lab, action="reprotect"), False)
    assert error.value.details.get("phase") == phase, error.value
    lab.control("DELETE", "/faults")
    again = smhv_failback.run(params(site, lab, action="reprotect"), False)
    assert again["changed"] and again["resumed"]
    assert_reprotected(site, lab, again)
    assert journals(site, "hv03") == []
    assert smhv_failback.run(params(site, lab, action="reprotect"), False)["changed"] is False


def test_readiness_reports_both_sites_and_changes_nothing(lab):
    site = failed_over_and_worked_at_b(lab)
    before = lab.state()
    report = smhv_failback.run(params(site, lab, action="readiness"), False)
    assert differences(before, lab.state()) == []
    checks = {check["check"]: check for check in report["checks"]}
    assert report["ready"] is True and report["changed"] is False, checks
    assert "failed_over" in checks["relationships"]["detail"] and sorted(vm["name"] for vm in report["vms"]) == VMS
    lab.control("POST", "/site", {"site": "a", "state": "down"})
    started = time.monotonic()
    report = smhv_failback.run(params(site, lab, action="readiness"), False)
    checks = {check["check"]: check for check in report["checks"]}
    assert report["ready"] is False and not checks["primary_host"]["ok"] and not checks["primary_storage"]["ok"], checks
    assert checks["dr_host"]["ok"] and checks["dr_storage"]["ok"]
    assert time.monotonic() - started < 120
    lab.control("POST", "/site", {"site": "a", "state": "up"})
    lab.control("DELETE", "/faults")


def test_failback_to_a_rebuilt_site_then_reprotect(lab):
    """Site A comes back rebuilt: hv03 has none of its old disks, and its VMs and SnapInfo go to new volumes. rebuild=true
    creates and initializes B -> A relationships to them (ONTAP creates the volumes), the VMs come back with site B's
    data, and reprotect mirrors the new volumes to site B, the failover's relationships from the old volumes deleted."""
    site = failed_over_and_worked_at_b(lab)
    with site.session("hv03") as session:
        disks = session.owner.call("disk_rescan", {}).result["disks"]
        old = site.storage().find_luns_by_serials([disk["serial"] for disk in disks if disk["netapp_lun"]])
        for serial, lun in old.items():
            if lun.volume_name in ("vol_hv03", "vol_snapinfo"):
                session.owner.call("disk_disconnect", {"serial": serial})
    new_volumes = {"svm_dr:vol_hv03_dr": "svm_hv:vol_hv03_new", "svm_dr:vol_snapinfo_dr": "svm_hv:vol_snapinfo_new"}
    options = dict(rebuild=True, primary_volumes=new_volumes, path_map={"K:\\": "J:\\", "L:\\": "K:\\"})
    planned = smhv_failback.run(params(site, lab, **options), True)
    assert sorted((m["primary_volume"], m["action"]) for m in planned["plan"]["mirrors"]) == [
        ("cluster-a:svm_hv:vol_hv03_new", "create"), ("cluster-a:svm_hv:vol_snapinfo_new", "create")]
    result = smhv_failback.run(params(site, lab, **options), False)
    assert result["plan"] == planned["plan"] and result["actions"] == planned["actions"]
    site.failback = result
    assert_back_at_a(site, lab)
    states = mirrors(lab)
    for source, destination in new_volumes.items():
        assert states[(SITE_A, "cluster-b:" + source, destination)] == "broken_off"
    assert smhv_failback.run(params(site, lab, **options), False)["changed"] is False
    protected = smhv_failback.run(params(site, lab, action="reprotect"), False)
    states = mirrors(lab)
    for destination, source in new_volumes.items():
        assert states[(SITE_B, "cluster-a:" + source, destination)] == "snapmirrored"
    assert not [key for key in states if key[0] == SITE_B and key[1] in ("cluster-a:svm_hv:vol_hv03", "cluster-a:svm_hv:vol_snapinfo")]
    (backup,) = protected["proof"]["backups"]
    assert [v["backups"] for v in protected["proof"]["volumes"] if v["dr_volume"].endswith(":vol_hv03_dr")] == [[backup]]
    for vm in VMS:
        assert read(lab, vm, DATA) == ("%s: written at B" % vm, True)
