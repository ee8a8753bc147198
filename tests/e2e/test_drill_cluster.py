"""smhv_failover action=drill / end_drill to a DR failover cluster, on the lab's topologies/dr_cluster.yml (hvdrclus01:
hvdr02 owning it, hvdr03): hvclus01's VMs brought up from FlexClones of the CSV mirrors, each clone LUN mapped to every
node and made a CSV at C:\\ClusterStorage\\smhv_drill_hvclus01_<volume>_<lun>, the VMs registered on the owner node under
drill names with no network and made highly available, started and checked; site A runs on and its mirrors keep updating.
end_drill then removes the roles, VMs, CSVs, maps and clones.

Backup 1 was replicated with the guests' data 'before'; the guests then wrote 'after' (the mirrors updated, so their active
file system has it) and backup 2 was not replicated: the drill's recovery point is backup 1.
"""
from __future__ import annotations

import json
import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover
from e2e.backup_support import LabSite
from e2e.restore_support import read, write
from e2e.test_drill import params as drill_params
from e2e.test_failover import differences

SNAPINFO = "S:\\SnapInfo"
DATA = "C:\\data\\ledger.txt"
VMS = ["vm-app01", "vm-app02", "vm-web01"]
NODES = ["hvdr02", "hvdr03"]
CSV = "C:\\ClusterStorage\\smhv_drill_hvclus01_%s\\"
CSV1, CSV2 = CSV % "vol_csv1_dr_csv1", CSV % "vol_csv2_dr_csv2"


def params(site, lab, **changes):
    values = dict(hyperv_host="hvdrclus01", source_scope="hvclus01", snapinfo_path=SNAPINFO, luns=None)
    values.update(changes)
    return drill_params(site, lab, **values)


def prepare(lab):
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
    time.sleep(1.1)
    second = site.backup("hvclus01", "web", backup_method="checkpoint")
    assert second["backup"]["status"] == "ok", second
    (snapinfo_mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_snapinfo_dr")
    storage.snapmirror.update(snapinfo_mirror)
    site.first, site.second = first["backup"]["name"], second["backup"]["name"]
    site.ids = site.vm_ids("hvclus01", VMS)
    return site


def at_site_b(lab):
    hosts = lab.state()["hosts"]
    return sorted((vm["name"], vm["id"], vm["state"], node) for node in NODES for vm in hosts[node]["vms"])


def vhdx_text(site, node, folder):
    """A drill VM's virtual disks as `node` reads them from the drill CSV (the lab's VHDX holds its guest files as text)."""
    with site.session(node) as session:
        client = session.owner if session.owner.name == node else session.other_nodes()[node]
        disks = [item["path"] for item in client.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                 if item["path"].lower().endswith(".vhdx")]
        return "\n".join(found["content"] for found in client.call("file_read", {"paths": disks}).result["files"])


def mirror_states(lab):
    return {m["destination"]: m["state"] for m in lab.state()["ontap"]["cluster-b"]["snapmirrors"]}


def nothing_of_the_drill(lab):
    state = lab.state()
    cluster = state["failover_clusters"]["hvdrclus01"]
    found = ["smhv_drill_" in json.dumps(state["ontap"]), "smhv_drplan_" in json.dumps(state)]
    found += [csv["path"] for csv in cluster["csvs"]] + [role["name"] for role in cluster["vm_roles"].values()]
    for node in NODES:
        host = state["hosts"][node]
        found += ["%s: %s" % (node, vm["name"]) for vm in host["vms"]]
        found += ["%s: %s" % (node, path) for disk in host["disks"] for path in disk["access_paths"] if "drill" in path.lower()]
        found += ["%s: %s" % (node, folder) for folder in host["folders"] if "drill" in folder.lower()]
    return [item for item in found if item]


@pytest.fixture(scope="module")
def drill(drlab):
    site = prepare(drlab)
    before = drlab.state()
    site.planned = smhv_failover.run(params(site, drlab), True)
    site.state_changes = differences(before, drlab.state())
    site.result = smhv_failover.run(params(site, drlab), False)
    site.state = drlab.state()
    yield site
    smhv_failover.run(params(site, drlab, action="end_drill"), False)
    drlab.control("DELETE", "/faults")


def test_check_mode_plans_the_drill_csvs_and_changes_nothing(drill):
    assert drill.state_changes == []
    plan = drill.planned["plan"]
    assert [(c["clone"], c["snapshot"]) for c in plan["clones"]] == [
        ("smhv_drill_hvclus01_vol_csv1_dr", drill.first), ("smhv_drill_hvclus01_vol_csv2_dr", drill.first)]
    assert [(lun["lun"], lun["access_path"], lun["csv"]) for lun in plan["luns"]] == [
        ("cluster-b:/vol/vol_csv1_dr/csv1", CSV1, True), ("cluster-b:/vol/vol_csv2_dr/csv2", CSV2, True)]
    assert plan["cluster"] == {"name": "hvdrclus01", "owner_node": "hvdr02", "nodes": NODES, "csvs": [CSV1, CSV2]}
    actions = drill.planned["actions"]
    assert "map the clone of LUN cluster-b:/vol/vol_csv1_dr/csv1 to the nodes of hvdrclus01 and add it to the cluster as a CSV at %s" % CSV1 \
        in actions
    assert actions[-1] == "make drill VM(s) vm-app01-drill, vm-app02-drill, vm-web01-drill highly available on cluster hvdrclus01, " \
        "registered on node hvdr02"
    assert drill.planned["plan"] == drill.result["plan"] and drill.planned["actions"] == drill.result["actions"]


def test_the_drill_vms_run_as_cluster_roles_on_drill_csvs_with_the_recovery_point(drill, drlab):
    result = drill.result
    assert result["passed"] is True, result["vms"]
    assert [p["phase"] for p in result["rto"]["phases"]][-5:] == ["clones", "register", "cluster_roles", "start", "check"]
    assert at_site_b(drlab) == sorted((name + "-drill", drill.ids[name], "Running", "hvdr02") for name in VMS)
    cluster = drill.state["failover_clusters"]["hvdrclus01"]
    assert sorted((role["name"], vm_id) for vm_id, role in cluster["vm_roles"].items()) == sorted(
        (name + "-drill", drill.ids[name]) for name in VMS)
    assert sorted(csv["path"] + "\\" for csv in cluster["csvs"]) == [CSV1, CSV2]
    for vm in result["vms"]:
        assert vm["health"]["isolated"] and vm["health"]["heartbeat"] == "OK" and vm["highly_available"] is True
    for name in VMS:
        (lun,) = [lun for lun in result["plan"]["luns"] if name in lun["vms"]]
        for node in NODES:  # a CSV: every node reads the same clone
            text = vhdx_text(drill, node, lun["access_path"] + name)
            assert "%s: before" % name in text and "%s: after" % name not in text
        assert read(drlab, name, DATA) == ("%s: after" % name, True)  # production at site A untouched
    assert {mirror_states(drlab)["svm_dr:%s" % volume] for volume in ("vol_csv1_dr", "vol_csv2_dr", "vol_snapinfo_dr")} == {"snapmirrored"}


def test_a_backup_with_update_at_site_a_during_the_drill_succeeds(drill, drlab):
    during = LabSite(drlab).backup("hvclus01", "web", backup_method="checkpoint", update_snapmirror=True)
    assert during["backup"]["status"] == "ok", during
    assert {mirror_states(drlab)["svm_dr:%s" % volume] for volume in ("vol_csv1_dr", "vol_csv2_dr")} == {"snapmirrored"}


def test_a_failover_refuses_while_the_drill_runs(drill, drlab):
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(params(drill, drlab, action="failover", path_map=None), True)
    assert error.value.code == "VM_EXISTS" and sorted(error.value.details["drill_vms"]) == sorted(name + "-drill" for name in VMS)


def test_end_drill_removes_roles_vms_csvs_maps_and_clones(drlab):
    site = prepare(drlab)
    started = smhv_failover.run(params(site, drlab), False)
    assert started["passed"] is True
    planned = smhv_failover.run(params(site, drlab, action="end_drill"), True)
    assert planned["changed"] and sorted(planned["removed"]["vms"]) == sorted(name + "-drill" for name in VMS)
    ended = smhv_failover.run(params(site, drlab, action="end_drill"), False)
    assert ended["changed"] and len(ended["removed"]["clones"]) == 3
    assert nothing_of_the_drill(drlab) == []
    assert smhv_failover.run(params(site, drlab, action="end_drill"), False)["changed"] is False


def test_an_aborted_drill_is_ended_by_the_next_one(drlab):
    site = prepare(drlab)
    drlab.control("POST", "/faults", {"target": "agent", "kind": "agent_error", "times": 1,
                                      "match": {"host": "hvdr02", "op": "cluster_vm_role_add"}})
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(params(site, drlab), False)
    assert error.value.details["phase"] == "cluster_roles"
    again = smhv_failover.run(params(site, drlab), False)
    assert again["ended_earlier_drill"] is True and again["passed"] is True
    assert at_site_b(drlab) == sorted((name + "-drill", site.ids[name], "Running", "hvdr02") for name in VMS)
    assert len(drlab.state()["failover_clusters"]["hvdrclus01"]["csvs"]) == 2
    smhv_failover.run(params(site, drlab, action="end_drill"), False)
    assert nothing_of_the_drill(drlab) == []
    drlab.control("DELETE", "/faults")
