"""smhv_failover action=drill / end_drill on the lab: hv03's VMs brought up on hvdr01 from FlexClones of the SnapMirror
destinations at the recovery point, under drill names with their network adapters disconnected, while site A runs on and
its mirrors keep updating; then the drill ended, leaving nothing.

Backup 1 was replicated with the guests' data 'before', then the data changed to 'after' and backup 2 was taken without a
mirror update (the SnapInfo mirror was updated after it): the drill's recovery point is backup 1.
"""
from __future__ import annotations

import json
import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite
from e2e.restore_support import read, write
from e2e.test_failover import DATA, LUNS, SNAPINFO, VMS, differences

DRILL_ROOT = "C:\\SMHV\\Drills"


def params(site, lab, **changes):
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    values = dict(site.common, hyperv_host="hvdr01", action="drill", mode="unplanned", source_scope="hv03",
                  dr_storage_systems=["127.0.0.1:%d" % port], snapinfo_path=SNAPINFO, snapinfo_lun=None, report_path="C:\\SMHV\\Reports",
                  vms=None, datasets=None, backup=None, path_map=None, luns=LUNS, start=True, start_order=None, lease_ttl=1800,
                  drill_suffix="-drill", drill_check_timeout=30, drill_switch=None, drill_check_script=None, final_backup=True)
    values.update(changes)
    return values


def prepare(lab):
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
    time.sleep(1.1)
    second = site.backup("hv03", "dr", backup_method="checkpoint")
    assert second["backup"]["status"] == "ok", second
    storage = site.storage()
    (snapinfo_mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_snapinfo_dr")
    storage.snapmirror.update(snapinfo_mirror)
    site.first, site.second = first["backup"]["name"], second["backup"]["name"]
    site.ids = site.vm_ids("hv03", VMS)
    with site.session("hvdr01") as session:
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
    return site


def drill_vms(lab):
    return sorted((vm["name"], vm["id"], vm["state"]) for vm in lab.state()["hosts"]["hvdr01"]["vms"])


def vhdx_text(site, folder):
    """The drill VM's virtual disk as hvdr01 reads it (the lab's VHDX holds its guest files as text)."""
    with site.session("hvdr01") as session:
        (vhdx,) = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                   if item["path"].lower().endswith(".vhdx")]
        return session.owner.call("file_read", {"paths": [vhdx]}).result["files"][0]["content"]


def mirror_states(lab):
    return {m["destination"]: m["state"] for m in lab.state()["ontap"]["cluster-b"]["snapmirrors"]}


def nothing_of_the_drill(lab):
    state = lab.state()
    hvdr01 = state["hosts"]["hvdr01"]
    found = ["smhv_drill_" in json.dumps(state["ontap"]), "smhv_drplan_" in json.dumps(state)]
    found += [vm["name"] for vm in hvdr01["vms"]]
    found += [path for disk in hvdr01["disks"] for path in disk["access_paths"] if path.lower().startswith(DRILL_ROOT.lower())]
    found += [folder for folder in hvdr01["folders"] if folder.lower().startswith(DRILL_ROOT.lower())]
    return [item for item in found if item]


@pytest.fixture(scope="module")
def drill(lab):
    site = prepare(lab)
    before = lab.state()
    site.planned = smhv_failover.run(params(site, lab), True)
    site.state_changes = differences(before, lab.state())
    started = time.monotonic()
    site.result = smhv_failover.run(params(site, lab), False)
    site.seconds = time.monotonic() - started
    yield site
    smhv_failover.run(params(site, lab, action="end_drill"), False)
    lab.control("DELETE", "/faults")


def test_check_mode_plans_the_drill_and_changes_nothing(drill):
    assert drill.state_changes == []
    plan = drill.planned["plan"]
    assert [(c["clone"], c["volume"], c["snapshot"]) for c in plan["clones"]] == [
        ("smhv_drill_hv03_vol_hv03_dr", "cluster-b:svm_dr:vol_hv03_dr", drill.first)]
    assert plan["snapinfo"]["clone"] == "smhv_drill_hv03_vol_snapinfo_dr" and plan["snapinfo"]["action"] == "clone"
    assert all(m["action"] == "none" for m in plan["mirrors"])
    assert sorted(vm["drill_name"] for vm in plan["vms"]) == sorted(name + "-drill" for name in VMS)
    assert drill.planned["plan"] == drill.result["plan"] and drill.planned["actions"] == drill.result["actions"]


def test_the_drill_vms_run_isolated_with_the_recovery_point_data(drill, lab):
    result = drill.result
    assert result["passed"] is True, result["vms"]
    assert drill_vms(lab) == sorted((name + "-drill", drill.ids[name], "Running") for name in VMS)
    for vm in result["vms"]:
        assert vm["health"] == {"state": "Running", "heartbeat": "OK", "network_connected": False, "switches": [], "isolated": True}
    for name in VMS:
        (lun,) = [lun for lun in result["plan"]["luns"] if name in lun["vms"]]
        text = vhdx_text(drill, lun["access_path"] + name)
        assert "%s: before" % name in text and "%s: after" % name not in text
        assert read(lab, name, DATA) == ("%s: after" % name, True)  # production at site A untouched
    assert result["recovery_points"][0]["backup"] == drill.first


def test_mirrors_stay_and_keep_updating_during_the_drill(drill, lab):
    assert set(mirror_states(lab).values()) == {"snapmirrored"}
    time.sleep(1.1)
    backup = drill.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)
    assert backup["backup"]["status"] == "ok" and not backup["backup"].get("warnings"), backup
    assert [r["destination"] for r in backup["replication"]] == ["svm_dr:vol_hv03_dr"]
    assert backup["backup"]["name"] in lab.state()["ontap"]["cluster-b"]["volumes"]["vol_hv03_dr"]["snapshots"]
    assert set(mirror_states(lab).values()) == {"snapmirrored"}


def test_a_failover_refuses_to_run_beside_the_drill(drill, lab):
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(params(drill, lab, action="failover"), True)
    assert error.value.code == "VM_EXISTS" and "end it (action: end_drill)" in error.value.message
    assert sorted(error.value.details["drill_vms"]) == sorted(name + "-drill" for name in VMS)


def test_ending_the_drill_leaves_nothing_and_a_second_end_changes_nothing(drill, lab):
    ended = smhv_failover.run(params(drill, lab, action="end_drill"), False)
    assert ended["changed"] and sorted(ended["removed"]["vms"]) == sorted(name + "-drill" for name in VMS)
    assert nothing_of_the_drill(lab) == []
    assert set(mirror_states(lab).values()) == {"snapmirrored"}
    again = smhv_failover.run(params(drill, lab, action="end_drill"), False)
    assert again["changed"] is False and again["actions"] == []


def test_an_aborted_drill_is_cleaned_by_the_next_run(lab):
    site = prepare(lab)
    lab.control("POST", "/faults", {"target": "agent", "kind": "agent_error", "nth": 2, "match": {"host": "hvdr01", "op": "vm_import"}})
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(params(site, lab), False)
    assert error.value.details["phase"] == "register"
    lab.control("DELETE", "/faults")
    again = smhv_failover.run(params(site, lab), False)
    assert again["ended_earlier_drill"] is True and again["passed"] is True
    assert [vm[0] for vm in drill_vms(lab)] == sorted(name + "-drill" for name in VMS)
    smhv_failover.run(params(site, lab, action="end_drill"), False)
    assert nothing_of_the_drill(lab) == []


def test_the_dr_drill_playbook_drills_and_ends(lab, tmp_path):
    from e2e.test_fleet_playbooks import playbook
    site = prepare(lab)
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    extra = {"smhv_source_scope": "hv03", "smhv_dr_host": "hvdr01", "smhv_dr_storage_systems": ["127.0.0.1:%d" % port],
             "smhv_snapinfo_path": SNAPINFO, "smhv_luns": LUNS, "smhv_drill_check_timeout": 30}
    output = playbook(lab, tmp_path, "dr_drill.yml", extra)
    assert "vm-file01-drill passed" in output and "passed: true" in output
    assert nothing_of_the_drill(lab) == [] and set(mirror_states(lab).values()) == {"snapmirrored"}
    assert site.first in output


def test_a_drill_on_an_isolated_switch(lab):
    """drill_switch: the drill VM's adapter is on that switch (connected, but only there), and the check passes."""
    site = prepare(lab)
    result = smhv_failover.run(params(site, lab, vms=["vm-print01"], drill_switch="drill-isolated"), False)
    (vm,) = result["vms"]
    assert result["passed"] and vm["health"]["switches"] == ["drill-isolated"] and vm["health"]["isolated"]
    assert "with its network adapters on isolated switch drill-isolated" in " ".join(result["actions"])
    smhv_failover.run(params(site, lab, action="end_drill"), False)
    assert nothing_of_the_drill(lab) == []


CHECK_SCRIPT = "C:\\scripts\\drill-check.cmd"


def put_check_script(site, content):
    """A guest check script on hvdr01, in the lab's script language (lab/smhv_lab/hyperv/backup_ops.py)."""
    with site.session("hvdr01") as session:
        session.owner.call("file_write", {"path": CHECK_SCRIPT, "content": content, "create_dirs": True})


def test_a_guest_check_script_runs_once_per_drill_vm_with_its_names(lab):
    site = prepare(lab)
    put_check_script(site, "echo %DrillVMName% (%VMId%, was %VMName%) from %VMSnapshot% answers\r\n"
                           "write C:\\scripts\\checked\\%1.txt %2 %VMSnapshot%\r\nexit 0\r\n")
    script = {"path": CHECK_SCRIPT, "arguments": ["$DrillVMName", "$VMId"], "timeout": 60}
    planned = smhv_failover.run(params(site, lab, drill_check_script=script), True)
    result = smhv_failover.run(params(site, lab, drill_check_script=script), False)
    assert planned["actions"] == result["actions"] and "then run guest check %s" % CHECK_SCRIPT in " ".join(result["actions"])
    assert result["passed"] is True, result["vms"]
    for vm in result["vms"]:
        assert vm["outcome"] == "passed" and vm["check_script"] == {
            "path": CHECK_SCRIPT, "exit_code": 0, "error": None, "stderr": "",
            "stdout": "%s (%s, was %s) from %s answers" % (vm["drill_name"], vm["id"], vm["name"], site.first)}
    with site.session("hvdr01") as session:
        written = {item["path"]: item["content"] for item in session.owner.call("file_read", {"paths": [
            "C:\\scripts\\checked\\%s-drill.txt" % name for name in VMS]}).result["files"]}
    assert sorted(written.values()) == sorted("%s %s" % (site.ids[name], site.first) for name in VMS)
    smhv_failover.run(params(site, lab, action="end_drill"), False)
    assert nothing_of_the_drill(lab) == []


@pytest.mark.parametrize("content, script, failure", [
    ("error %DrillVMName%: no answer on port 445\r\nexit 3\r\n", {}, {"exit_code": 3, "error": None}),
    ("sleep 120\r\n", {"timeout": 5}, {"exit_code": None, "error": "SCRIPT_TIMEOUT"}),
    (None, {"path": "C:\\scripts\\missing.cmd"}, {"exit_code": None, "error": "FILE_NOT_FOUND"}),
], ids=["exit_code", "timeout", "missing"])
def test_a_failing_guest_check_fails_the_vm_and_the_drill_still_ends(lab, content, script, failure):
    site = prepare(lab)
    if content is not None:
        put_check_script(site, content)
    script = dict({"path": CHECK_SCRIPT, "arguments": [], "timeout": 60}, **script)
    result = smhv_failover.run(params(site, lab, vms=["vm-print01"], drill_check_script=script), False)
    (vm,) = result["vms"]
    assert result["passed"] is False and vm["outcome"] == "failed"
    assert vm["health"]["state"] == "Running" and vm["health"]["isolated"]  # the VM itself came up: the guest check failed it
    check = vm["check_script"]
    assert check["exit_code"] == failure["exit_code"] and (check["error"] or {}).get("code") == failure["error"], check
    if failure["exit_code"]:
        assert check["stderr"] == "vm-print01-drill: no answer on port 445"
    ended = smhv_failover.run(params(site, lab, action="end_drill"), False)
    assert ended["removed"]["vms"] == ["vm-print01-drill"] and nothing_of_the_drill(lab) == []
