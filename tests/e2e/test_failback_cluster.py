"""smhv_failback on the lab's DR cluster topology (topologies/dr_cluster.yml): the cluster round trip. hvclus01's VMs
(CSVs Volume1 and Volume2, nodes hv01 owning it and hv02) fail over to hvdrclus01 (nodes hvdr02 owning it and hvdr03,
Volume1 mapped to Volume3), the guests write new data at site B, site A comes back; the failback brings every VM back
to hvclus01 as a cluster role on its CSVs at their old paths with site B's newest data, and reprotect cleans
hvdrclus01 (no VM, role, CSV, disk or map of the round trip left) and mirrors A -> B again.

One module-scoped round trip (failover, failback in check mode and for real, a second failback, reprotect in check mode
and for real, a second reprotect) and tests asserting on it; then a fault at each step the cluster adds to the failback
(taking the CSVs out of the cluster at A, adding them back, registering the VMs, making them highly available) and to
the reprotect (removing the roles and the CSVs at B), each followed by a re-run that finishes. The shared phases are
covered on the standalone topology (test_failback.py).
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failback, smhv_failover
from e2e.restore_support import leftovers, read, write
from e2e.test_failover import differences
from e2e.test_failover_cluster import CSV1, CSV2, DATA, SNAPINFO, VMS, cluster_params, prepare

SITE_A, SITE_B = "cluster-a", "cluster-b"
NODES_A, NODES_B = ["hv01", "hv02"], ["hvdr02", "hvdr03"]
ROUND_TRIP = {"svm_dr:vol_csv1_dr": "svm_hv:vol_csv1", "svm_dr:vol_csv2_dr": "svm_hv:vol_csv2", "svm_dr:vol_snapinfo_dr": "svm_hv:vol_snapinfo"}


def params(site, lab, **changes):
    port = lab.endpoints["ontap"][SITE_B]["port"]
    values = dict(site.common, hyperv_host="hvclus01", dr_host="hvdrclus01", action="failback", snapinfo_path=SNAPINFO,
                  dr_storage_systems=["127.0.0.1:%d" % port], primary_storage_systems=None, vms=None, datasets=None, path_map=None,
                  rebuild=False, primary_volumes=None, start=True, start_order=None, prove=True, report_path="C:\\SMHV\\Reports",
                  lease_ttl=1800)
    values.update(changes)
    return values


def failed_over_and_worked_at_b(lab):
    """test_failover_cluster's prepare (site A down), the failover to hvdrclus01, new data at B, site A back."""
    site = prepare(lab)
    result = smhv_failover.run(cluster_params(site, lab), False)
    assert result["changed"] and sorted(vm["name"] for vm in result["vms"]) == VMS
    for vm in VMS:
        write(lab, vm, DATA, "%s: written at B" % vm)
    lab.control("POST", "/site", {"site": "a", "state": "up"})
    lab.control("DELETE", "/faults")
    site.csv_serials = {CSV1.rstrip("\\"): serial_of(lab, SITE_A, "vol_csv1", "/vol/vol_csv1/csv1"),
                        CSV2.rstrip("\\"): serial_of(lab, SITE_A, "vol_csv2", "/vol/vol_csv2/csv2")}
    return site


def guest_texts(site, failback):
    """{VM name: its virtual disks as hvclus01 reads them} (the lab's VHDX holds its guest files as text): with the same VM
    on both sites the lab's guest-data call cannot tell them apart."""
    texts = {}
    with site.session("hvclus01") as session:
        for vm in failback["plan"]["vms"]:
            folder = vm["config_path"].split("\\Virtual Machines\\")[0]
            disks = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                     if item["path"].lower().endswith(".vhdx")]
            texts[vm["name"]] = "".join(item["content"] for item in session.owner.call("file_read", {"paths": disks}).result["files"])
    return texts


def mirrors(state):
    """{(cluster, source, destination): state} of both sites' relationships in a /state document."""
    return {(name, m["source"], m["destination"]): m["state"] for name in (SITE_A, SITE_B) for m in state["ontap"][name]["snapmirrors"]}


def serial_of(lab, cluster, volume, path):
    return lab.state()["ontap"][cluster]["volumes"][volume]["luns"][path]["serial"]


@pytest.fixture(scope="module")
def round_trip(drlab):
    site = failed_over_and_worked_at_b(drlab)
    before = drlab.state()
    site.readiness = smhv_failback.run(params(site, drlab, action="readiness"), False)
    site.planned = smhv_failback.run(params(site, drlab), True)
    site.plan_changes = differences(before, drlab.state())
    started = time.monotonic()
    site.failback = smhv_failback.run(params(site, drlab), False)
    site.failback_seconds = time.monotonic() - started
    site.back_at_a = drlab.state()
    site.guest_texts = guest_texts(site, site.failback)
    site.leftovers_after_failback = leftovers(drlab)
    site.again = smhv_failback.run(params(site, drlab), False)
    before = drlab.state()
    site.reprotect_planned = smhv_failback.run(params(site, drlab, action="reprotect"), True)
    site.reprotect_plan_changes = differences(before, drlab.state())
    site.reprotect = smhv_failback.run(params(site, drlab, action="reprotect"), False)
    site.reprotected = drlab.state()
    site.leftovers_after_reprotect = leftovers(drlab)
    site.guest_files = [read(drlab, vm, DATA) for vm in VMS]  # the VMs run at site A only now: the lab reads them there
    with site.session("hvdrclus01") as session:
        site.dr_registration = session.registration()
    site.reprotect_again = smhv_failback.run(params(site, drlab, action="reprotect"), False)
    yield site
    drlab.control("DELETE", "/faults")


def assert_back_at_a(site, state, texts):
    """Every VM registered once at site A (on hv01, the owner), running, a cluster role of hvclus01, its CSV back in the
    cluster at its old path (the same LUN), with site B's newest data; none of them runs at site B."""
    at_a = sorted((vm["name"], vm["id"], vm["state"], node) for node in NODES_A for vm in state["hosts"][node]["vms"] if vm["name"] in VMS)
    assert at_a == sorted((name, site.ids[name], "Running", "hv01") for name in VMS)
    cluster = state["failover_clusters"]["hvclus01"]
    assert sorted((role["name"], vm_id) for vm_id, role in cluster["vm_roles"].items() if role["name"] in VMS) == sorted(
        (name, site.ids[name]) for name in VMS)
    assert {csv["path"]: csv["serial"] for csv in cluster["csvs"]} == site.csv_serials
    for node in NODES_A:  # a CSV is online at its path on every node
        disks = {disk["serial"]: disk for disk in state["hosts"][node]["disks"]}
        assert all(disks[serial]["online"] and disks[serial]["is_csv"] and disks[serial]["access_paths"] == [path + "\\"]
                   for path, serial in site.csv_serials.items())
    assert sorted(texts) == VMS
    for name, text in texts.items():
        assert "%s: written at B" % name in text, text[-300:]
    assert not [vm for node in NODES_B for vm in state["hosts"][node]["vms"] if vm["name"] in VMS and vm["state"] != "Off"]


def test_check_mode_plans_the_cluster_failback_and_changes_nothing(round_trip):
    assert round_trip.plan_changes == []
    plan = round_trip.planned["plan"]
    assert sorted((m["dr_volume"], m["primary_volume"], m["stage"], m["action"]) for m in plan["mirrors"]) == sorted(
        ("cluster-b:" + dr, "cluster-a:" + primary, "failed_over", "reverse_resync") for dr, primary in ROUND_TRIP.items())
    # the CSVs go back to the paths they have at site A: Volume3 at B was Volume1 at A
    assert plan["path_map"] == {"C:\\ClusterStorage\\Volume3\\": CSV1, CSV2: CSV2, "S:\\": "S:\\"}
    assert sorted((vm["name"], vm["action"], vm["config_path"][:len(CSV1)]) for vm in plan["vms"]) == [
        ("vm-app01", "fail back", CSV1), ("vm-app02", "fail back", CSV2), ("vm-web01", "fail back", CSV1)]
    assert plan["shutdown"] == VMS and plan["final_backup"] == {"datasets": ["web"], "host": "hvdrclus01"}
    assert round_trip.planned["changed"] is True and round_trip.planned["departure"] is None


def test_readiness_finds_the_vms_on_the_dr_cluster_and_the_csv_paths_free(round_trip):
    report = round_trip.readiness
    checks = {check["check"]: check for check in report["checks"]}
    assert report["ready"] is True and report["changed"] is False, checks
    assert sorted(vm["name"] for vm in report["vms"]) == VMS
    assert checks["primary_paths"]["detail"] == "free or held by the same LUNs: %s, %s, S:\\" % (CSV1, CSV2)


def test_check_mode_plan_is_what_the_failback_did(round_trip):
    assert round_trip.planned["plan"] == round_trip.failback["plan"]
    assert round_trip.planned["actions"] == round_trip.failback["actions"]


def test_failback_brings_every_vm_back_to_the_cluster_with_site_b_newest_data(round_trip):
    result = round_trip.failback
    assert result["changed"] and not result["resumed"]
    assert_back_at_a(round_trip, round_trip.back_at_a, round_trip.guest_texts)
    assert sorted(result["departure"]["stopped"]) == VMS and len(result["departure"]["final_backups"]) == 1
    (point,) = result["recovery_points"]
    assert point["backup"] == result["departure"]["final_backups"][0]
    phases = [p["phase"] for p in result["arrival"]["rto"]["phases"]]
    assert phases[-3:] == ["restore", "cluster_roles", "start"], phases
    states = mirrors(round_trip.back_at_a)
    for dr, primary in ROUND_TRIP.items():
        assert states[(SITE_A, "cluster-b:" + dr, primary)] == "broken_off"
    assert round_trip.leftovers_after_failback == [] and "smhv_drplan_" not in str(round_trip.back_at_a)


def test_a_second_failback_changes_nothing(round_trip):
    again = round_trip.again
    assert again["changed"] is False, (again["actions"], again["arrival"]["actions"])
    assert again["departure"] is None and again["actions"] == []


def test_reprotect_cleans_the_dr_cluster(round_trip):
    assert round_trip.reprotect_plan_changes == []
    planned, result = round_trip.reprotect_planned, round_trip.reprotect
    assert result["plan"] == planned["plan"] and result["actions"] == planned["actions"] and result["changed"]
    assert sorted((vm["name"], vm["clustered"], vm["node"]) for vm in planned["plan"]["clean"]["vms"]) == [(name, True, "hvdr02") for name in VMS]
    assert sorted(result["removed"]["vms"]) == sorted(round_trip.ids[name] for name in VMS), result["removed"]
    state = round_trip.reprotected
    cluster = state["failover_clusters"]["hvdrclus01"]
    assert cluster["vm_roles"] == {} and cluster["csvs"] == []
    serials = set(lun["serial"] for dr in ROUND_TRIP for lun in state["ontap"][SITE_B]["volumes"][dr.split(":", 1)[1]]["luns"].values())
    for node in NODES_B:
        assert [vm for vm in state["hosts"][node]["vms"] if vm["name"] in VMS] == []
        assert [disk for disk in state["hosts"][node]["disks"] if disk["serial"] in serials and (disk["online"] or disk["access_paths"])] == []
    paths = set(path for dr in ROUND_TRIP for path in state["ontap"][SITE_B]["volumes"][dr.split(":", 1)[1]]["luns"])
    before = set((m["lun"], m["igroup"]) for m in round_trip.back_at_a["ontap"][SITE_B]["lun_maps"] if m["lun"] in paths)
    mapped = ("/vol/vol_csv1_dr/csv1", "/vol/vol_csv2_dr/csv2", "/vol/vol_snapinfo_dr/snapinfo_hvclus01")
    assert before == set((path, "ig_hvdrclus01") for path in mapped)  # the failover's maps
    assert [m for m in state["ontap"][SITE_B]["lun_maps"] if m["lun"] in paths] == []
    assert sorted(result["removed"]["maps"]) == sorted("cluster-b:" + path for path in mapped)
    assert "smhv_drill_" not in str(state) and "smhv_drplan_" not in str(state) and round_trip.leftovers_after_reprotect == []
    assert not round_trip.dr_registration["registered"]  # its SnapInfo was on the round trip's LUN at S:


def test_reprotect_mirrors_a_to_b_again_proved_by_a_backup_at_a(round_trip):
    result = round_trip.reprotect
    states = mirrors(round_trip.reprotected)
    for dr, primary in ROUND_TRIP.items():
        assert states[(SITE_B, "cluster-a:" + primary, dr)] == "snapmirrored"
        assert (SITE_A, "cluster-b:" + dr, primary) not in states
    (backup,) = result["proof"]["backups"]
    data = [volume["backups"] for volume in result["proof"]["volumes"] if ":vol_csv" in volume["dr_volume"]]
    assert data == [[backup], [backup]]
    assert round_trip.guest_files == [("%s: written at B" % vm, True) for vm in VMS]


def test_a_second_reprotect_changes_nothing(round_trip):
    assert round_trip.reprotect_again["changed"] is False and round_trip.reprotect_again["actions"] == []


# The steps a cluster adds, in run order, each stopping one run: the next run resumes from the journal the one before
# left and stops at the next fault; the last run finishes. One round trip for all of them (the shared phases' faults are
# test_failback.py's, on the standalone topology).
FAILBACK_FAULTS = [
    # the arrival's snaprestore takes hvclus01's CSVs out of the cluster before the LUNs are restored
    ("snaprestore", {"target": "agent", "kind": "agent_error", "nth": 2, "match": {"host": "hv01", "op": "cluster_disk_remove"}}),
    # the CSVs added back at their paths: the second one added, its answer lost
    ("connect", {"target": "agent", "kind": "drop", "nth": 2, "match": {"host": "hv01", "op": "cluster_disk_add"}}),
    ("restore", {"target": "agent", "kind": "drop", "match": {"host": "hv01", "op": "vm_import_batch"}}),  # registered, answer lost
    ("cluster_roles", {"target": "agent", "kind": "drop", "match": {"host": "hv01", "op": "cluster_vm_role_add"}}),
]
REPROTECT_FAULTS = [
    ("clean", {"target": "agent", "kind": "drop", "match": {"host": "hvdr02", "op": "cluster_vm_role_remove"}}),  # removed, answer lost
    ("clean", {"target": "agent", "kind": "agent_error", "nth": 2, "match": {"host": "hvdr02", "op": "cluster_disk_remove"}}),
]


def runs_through_faults(site, lab, faults, **changes):
    """One smhv_failback run per fault, each stopped in its phase; then the run that finishes, resuming."""
    for phase, rule in faults:
        lab.control("POST", "/faults", dict(rule, times=1))
        with pytest.raises(SmhvError) as error:
            smhv_failback.run(params(site, lab, **changes), False)
        assert error.value.details.get("phase") == phase, (rule, error.value)
        lab.control("DELETE", "/faults")
    return smhv_failback.run(params(site, lab, **changes), False)


def test_a_fault_at_each_cluster_step_then_a_rerun_finishes_with_no_duplicate(drlab):
    site = failed_over_and_worked_at_b(drlab)
    result = runs_through_faults(site, drlab, FAILBACK_FAULTS)
    assert result["changed"] and result["resumed"]
    assert_back_at_a(site, drlab.state(), guest_texts(site, result))  # each VM, role and CSV once
    with site.session("hvclus01") as session:
        assert session.owner.call("file_list", {"path": SNAPINFO + "\\smhv\\v1\\journals"}).result["entries"] == []  # closed
    result = runs_through_faults(site, drlab, REPROTECT_FAULTS, action="reprotect")
    assert result["changed"] and result["resumed"]
    state = drlab.state()
    assert state["failover_clusters"]["hvdrclus01"]["vm_roles"] == {} and state["failover_clusters"]["hvdrclus01"]["csvs"] == []
    assert [vm for node in NODES_B for vm in state["hosts"][node]["vms"] if vm["name"] in VMS] == []
    for dr, primary in ROUND_TRIP.items():
        assert mirrors(state)[(SITE_B, "cluster-a:" + primary, dr)] == "snapmirrored"
    with site.session("hvclus01") as session:
        assert session.owner.call("file_list", {"path": SNAPINFO + "\\smhv\\v1\\journals"}).result["entries"] == []
