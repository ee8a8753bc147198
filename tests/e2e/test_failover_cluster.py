"""smhv_failover to a DR failover cluster on the lab's DR cluster topology (topologies/dr_cluster.yml: hvdrclus01, nodes
hvdr02 owning it and hvdr03): an unplanned failover of hvclus01's VMs on CSVs with site A down.

Backup 1 was replicated with the guests' data 'before'; the guests then wrote 'after', the CSV mirrors were updated (their
active file system holds 'after') and backup 2 was taken without a mirror update; the SnapInfo mirror was updated last. So
the recovery point is backup 1, and each destination LUN must be brought back to it: every VM must run at site B as a
cluster role, on the CSVs (Volume1 mapped to Volume3 by path_map, Volume2 kept), with 'before'.
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover
from e2e.backup_support import LabSite
from e2e.restore_support import leftovers, read, write
from e2e.test_failover import differences, params, seen, site_a_down

SNAPINFO = "S:\\SnapInfo"
DATA = "C:\\data\\ledger.txt"
VMS = ["vm-app01", "vm-app02", "vm-web01"]
CSV1, CSV2, CSV3 = ("C:\\ClusterStorage\\Volume%d\\" % number for number in (1, 2, 3))
NODES = ["hvdr02", "hvdr03"]


def cluster_params(site, lab, **changes):
    values = dict(hyperv_host="hvdrclus01", source_scope="hvclus01", snapinfo_path=SNAPINFO, luns=None,
                  path_map={CSV1: CSV3}, start_order=[{"vms": ["vm-app01"], "wait_seconds": 1}])
    values.update(changes)
    return params(site, lab, **values)


def prepare(lab):
    """Backup 1 replicated with 'before', 'after' in the mirrors' active file system, backup 2 not replicated, the SnapInfo
    mirror updated; hvclus01's VMs then lost with site A, whose endpoints drop every request."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", VMS)
    for vm in VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    first = site.backup("hvclus01", "web", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    for vm in VMS:
        write(lab, vm, DATA, "%s: after" % vm)
    storage = site.storage()
    for mirror in storage.snapmirror.find(destination_path=["svm_dr:vol_csv1_dr", "svm_dr:vol_csv2_dr"]):
        storage.snapmirror.update(mirror)
    time.sleep(1.1)  # backup names carry the second
    second = site.backup("hvclus01", "web", backup_method="checkpoint")
    assert second["backup"]["status"] == "ok", second
    (snapinfo_mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_snapinfo_dr")
    storage.snapmirror.update(snapinfo_mirror)
    site.first, site.second = first["backup"]["name"], second["backup"]["name"]
    site.ids = site.vm_ids("hvclus01", VMS)
    for vm in VMS:
        lab.control("DELETE", "/vm?vm=%s" % vm)
    site.down = site_a_down(lab)
    return site


def at_site_b(lab):
    """[(name, id, state, node)] of every VM registered on a node of hvdrclus01."""
    hosts = lab.state()["hosts"]
    return sorted((vm["name"], vm["id"], vm["state"], node) for node in NODES for vm in hosts[node]["vms"])


def assert_failed_over(site, lab):
    assert at_site_b(lab) == sorted((name, site.ids[name], "Running", "hvdr02") for name in VMS)  # each once, same id
    cluster = lab.state()["failover_clusters"]["hvdrclus01"]
    assert sorted((role["name"], vm_id) for vm_id, role in cluster["vm_roles"].items()) == sorted((name, site.ids[name]) for name in VMS)
    ontap = lab.state()["ontap"]["cluster-b"]["volumes"]
    serials = {ontap["vol_csv1_dr"]["luns"]["/vol/vol_csv1_dr/csv1"]["serial"]: CSV3.rstrip("\\"),
               ontap["vol_csv2_dr"]["luns"]["/vol/vol_csv2_dr/csv2"]["serial"]: CSV2.rstrip("\\")}
    assert {csv["serial"]: csv["path"] for csv in cluster["csvs"]} == serials
    for node in NODES:  # a CSV is online at its path on every node
        disks = {disk["serial"]: disk for disk in lab.state()["hosts"][node]["disks"]}
        assert all(disks[serial]["online"] and disks[serial]["is_csv"] and disks[serial]["access_paths"] == [path + "\\"]
                   for serial, path in serials.items())
    snapinfo = ontap["vol_snapinfo_dr"]["luns"]["/vol/vol_snapinfo_dr/snapinfo_hvclus01"]["serial"]
    owner, other = ({disk["serial"]: disk for disk in lab.state()["hosts"][node]["disks"]}[snapinfo] for node in NODES)
    assert (owner["online"], owner["access_paths"]) == (True, ["S:\\"]) and other["offline_reason"] == "Reserved by the failover cluster"
    for vm in VMS:
        assert read(lab, vm, DATA) == ("%s: before" % vm, True)
    mirrors = {m["destination"]: m["state"] for m in lab.state()["ontap"]["cluster-b"]["snapmirrors"]}
    assert [mirrors["svm_dr:%s" % name] for name in ("vol_csv1_dr", "vol_csv2_dr", "vol_snapinfo_dr", "vol_hv03_dr")] == [
        "broken_off", "broken_off", "broken_off", "snapmirrored"]
    assert leftovers(lab) == [] and "smhv_drplan_" not in str(lab.state())


@pytest.fixture(scope="module")
def failed_over(drlab):
    site = prepare(drlab)
    before = drlab.state()
    site.readiness = smhv_failover.run(cluster_params(site, drlab, action="readiness", max_lag_seconds=None), False)
    site.planned = smhv_failover.run(cluster_params(site, drlab), True)
    site.state_changes = differences(before, drlab.state())
    site.result = smhv_failover.run(cluster_params(site, drlab), False)
    site.calls_to_a = seen(drlab, site.down)
    yield site
    drlab.control("DELETE", "/faults")


def test_check_mode_plans_the_cluster_nodes_and_csvs_and_changes_nothing(failed_over):
    assert failed_over.state_changes == []
    plan = failed_over.planned["plan"]
    assert plan["cluster"] == {"name": "hvdrclus01", "owner_node": "hvdr02", "nodes": NODES, "csvs": [CSV2, CSV3]}
    (point,) = plan["recovery_points"]
    assert point["backup"] == failed_over.first and [s["backup"] for s in point["newer_skipped"]] == [failed_over.second]
    assert (plan["snapinfo"]["action"], plan["snapinfo"]["access_path"]) == ("restore", "S:\\")
    assert [(lun["lun"], lun["access_path"], lun["csv"], lun["restore"]) for lun in plan["luns"]] == [
        ("cluster-b:/vol/vol_csv1_dr/csv1", CSV3, True, "volume"), ("cluster-b:/vol/vol_csv2_dr/csv2", CSV2, True, "volume")]
    assert sorted((vm["name"], vm["action"], vm["highly_available"], vm["config_path"][:len(CSV1)]) for vm in plan["vms"]) == [
        ("vm-app01", "restore", False, CSV3), ("vm-app02", "restore", False, CSV2), ("vm-web01", "restore", False, CSV3)]
    actions = failed_over.planned["actions"]
    assert "map LUN cluster-b:/vol/vol_csv1_dr/csv1 to the nodes of hvdrclus01 (hvdr02, hvdr03) and add it to the cluster as a CSV at %s" % CSV3 in actions
    assert "make VM(s) vm-app01, vm-app02, vm-web01 highly available on cluster hvdrclus01 (Add-ClusterVirtualMachineRole)" in actions


def test_readiness_covers_every_node_and_the_csv_paths(failed_over):
    report = failed_over.readiness
    checks = {check["check"]: check for check in report["checks"]}
    assert report["ready"] is True, report["checks"]
    assert checks["dr_host"]["detail"] == "failover cluster hvdrclus01, owner node hvdr02; node(s) hvdr02, hvdr03 answer"
    assert "hvdr02: initiators iqn.1991-05.com.microsoft:hvdr02.lab.local" in checks["initiator"]["detail"]
    assert "hvdr03: initiators iqn.1991-05.com.microsoft:hvdr03.lab.local" in checks["initiator"]["detail"]
    assert "ig_hvdrclus01" in checks["igroup"]["detail"]
    assert checks["access_paths"]["detail"] == "drive letters S: free; CSV paths %s free" % CSV3


def test_every_vm_runs_at_site_b_as_a_cluster_role_on_the_csvs_with_the_recovery_point(failed_over, drlab):
    result = failed_over.result
    assert_failed_over(failed_over, drlab)
    assert failed_over.calls_to_a == 0  # nothing on the path asked site A
    assert result["changed"] and not result["resumed"] and result["dr_host"] == "hvdrclus01"
    assert sorted((vm["name"], vm["outcome"], vm["state"]) for vm in result["vms"]) == [(name, "restored", "Running") for name in VMS]
    assert [p["phase"] for p in result["rto"]["phases"]] == ["discover", "snapinfo", "plan", "break", "snaprestore", "connect", "restore",
                                                             "cluster_roles", "start"]
    with LabSite(drlab).session("hvdrclus01") as session:
        assert session.registration()["snapinfo_path"] == SNAPINFO  # the cluster scope, on every node's cluster hive


def test_check_mode_plan_is_what_the_run_did(failed_over):
    assert failed_over.planned["plan"] == failed_over.result["plan"]
    assert failed_over.planned["actions"] == failed_over.result["actions"]


def test_a_second_failover_changes_nothing(failed_over, drlab):
    again = smhv_failover.run(cluster_params(failed_over, drlab), False)
    assert again["changed"] is False, again["actions"]
    assert all(vm["outcome"] == "present" and vm["highly_available"] for vm in again["vms"])
    assert_failed_over(failed_over, drlab)


FAULTS = {
    # phase: the fault rule that stops the first run at a step the cluster path added
    "snapinfo": {"target": "agent", "kind": "agent_error", "match": {"host": "hvdr02", "op": "cluster_disk_add"}},
    "connect": {"target": "agent", "kind": "drop", "nth": 2, "match": {"host": "hvdr02", "op": "cluster_disk_add"}},  # added, answer lost
    "restore": {"target": "agent", "kind": "drop", "match": {"host": "hvdr02", "op": "vm_import_batch"}},  # registered, answer lost
    "cluster_roles": {"target": "agent", "kind": "drop", "match": {"host": "hvdr02", "op": "cluster_vm_role_add"}},
}


@pytest.mark.parametrize("phase", sorted(FAULTS))
def test_a_fault_at_a_cluster_step_then_a_rerun_finishes_with_no_duplicate(drlab, phase):
    site = prepare(drlab)
    drlab.control("POST", "/faults", dict(FAULTS[phase], times=1))
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(cluster_params(site, drlab), False)
    assert error.value.details["phase"] == phase, error.value
    again = smhv_failover.run(cluster_params(site, drlab), False)
    assert again["changed"] and again["resumed"] == (phase != "snapinfo")
    assert_failed_over(site, drlab)
    assert seen(drlab, site.down) == 0
    with site.session("hvdrclus01") as session:
        assert session.owner.call("file_list", {"path": SNAPINFO + "\\smhv\\v1\\journals"}).result["entries"] == []  # closed
    drlab.control("DELETE", "/faults")


def test_a_snapinfo_path_on_a_csv_makes_the_snapinfo_lun_a_csv(drlab):
    """snapinfo_path on C:\\ClusterStorage\\<folder>: the SnapInfo LUN becomes a CSV of the DR cluster (the cluster scope's
    registration takes a CSV), and without path_map the data CSVs keep their source paths."""
    site = prepare(drlab)
    snapinfo = "C:\\ClusterStorage\\SnapInfo\\SnapInfo"
    result = smhv_failover.run(cluster_params(site, drlab, snapinfo_path=snapinfo, path_map=None), False)
    assert result["plan"]["cluster"]["csvs"] == [CSV1, CSV2] and seen(drlab, site.down) == 0
    state = drlab.state()
    ontap = state["ontap"]["cluster-b"]["volumes"]
    serial = ontap["vol_snapinfo_dr"]["luns"]["/vol/vol_snapinfo_dr/snapinfo_hvclus01"]["serial"]
    assert sorted(csv["path"] for csv in state["failover_clusters"]["hvdrclus01"]["csvs"]) == [
        "C:\\ClusterStorage\\SnapInfo", CSV1.rstrip("\\"), CSV2.rstrip("\\")]
    assert {csv["path"]: csv["serial"] for csv in state["failover_clusters"]["hvdrclus01"]["csvs"]}["C:\\ClusterStorage\\SnapInfo"] == serial
    assert at_site_b(drlab) == sorted((name, site.ids[name], "Running", "hvdr02") for name in VMS)
    assert all(read(drlab, vm, DATA) == ("%s: before" % vm, True) for vm in VMS)
    with site.session("hvdrclus01") as session:
        assert session.registration()["snapinfo_path"] == snapinfo
    drlab.control("DELETE", "/faults")
