"""The DR plays against a DR failover cluster, on the lab's topologies/dr_cluster.yml: playbooks/dr_failover.yml and the
role smhv_dr_failover fail hvclus01 over to hvdrclus01 with site A down (the data as in test_failover_cluster.py: backup 1
replicated with 'before', backup 2 not), and a planned failover to the cluster loses nothing written before its final
backup.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover
from e2e.backup_support import LabSite
from e2e.restore_support import write
from e2e.test_failover import seen
from e2e.test_failover_cluster import CSV1, CSV3, DATA, SNAPINFO, VMS, assert_failed_over, at_site_b, cluster_params, prepare
from e2e.test_fleet_playbooks import playbook, recap_changed
from lab_fixture import ansible_env

ROLE_PLAY = """- name: Fail hvclus01 over to the DR cluster with the role
  hosts: localhost
  gather_facts: false
  roles:
    - role: netapp_hyperv.smhv.smhv_dr_failover
"""


def dr_storage(lab):
    return ["127.0.0.1:%d" % lab.endpoints["ontap"]["cluster-b"]["port"]]


def test_the_dr_failover_playbook_fails_over_to_the_cluster(drlab, tmp_path):
    site = prepare(drlab)
    extra = {"smhv_source_scope": "hvclus01", "smhv_dr_host": "hvdrclus01", "smhv_dr_storage_systems": dr_storage(drlab),
             "smhv_snapinfo_path": SNAPINFO, "smhv_path_map": {CSV1: CSV3}}
    planned = playbook(drlab, tmp_path, "dr_failover.yml", extra)
    assert site.first in planned and "add it to the cluster as a CSV at" in planned and "Volume3" in planned
    assert at_site_b(drlab) == []  # not confirmed: readiness and the plan only
    done = playbook(drlab, tmp_path, "dr_failover.yml", dict(extra, smhv_confirm=True))
    assert "vm-app01 restored Running" in done
    assert_failed_over(site, drlab)
    assert seen(drlab, site.down) == 0
    drlab.control("DELETE", "/faults")


def run_role(lab, tmp_path, role_vars):
    play = tmp_path / "role_play.yml"
    play.write_text(ROLE_PLAY)
    args = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(play), "-e", json.dumps(role_vars)]
    run = subprocess.run(args, env=ansible_env(tmp_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"), capture_output=True, check=False,
                         text=True, timeout=600)
    assert run.returncode == 0, f"role failed:\n{run.stdout[-8000:]}\n{run.stderr[-3000:]}"
    return run.stdout


def test_the_role_fails_over_to_the_cluster_and_a_second_run_changes_nothing(drlab, tmp_path):
    site = prepare(drlab)
    role_vars = {"smhv_dr_failover_source_scope": "hvclus01", "smhv_dr_failover_dr_host": "hvdrclus01",
                 "smhv_dr_failover_dr_storage_systems": dr_storage(drlab), "smhv_dr_failover_snapinfo_path": SNAPINFO,
                 "smhv_dr_failover_path_map": {CSV1: CSV3}, "smhv_dr_failover_start_order": [{"vms": ["vm-app01"], "wait_seconds": 1}]}
    first = run_role(drlab, tmp_path, role_vars)
    assert "dr_host: ok - failover cluster hvdrclus01, owner node hvdr02" in first and "vm-web01: restored, Running" in first
    assert recap_changed(first)["localhost"] == 2  # the plan (check mode says it would change) and the failover
    assert_failed_over(site, drlab)
    second = run_role(drlab, tmp_path, role_vars)
    assert recap_changed(second)["localhost"] == 0 and "vm-web01: present, Running" in second
    assert_failed_over(site, drlab)
    assert seen(drlab, site.down) == 0
    drlab.control("DELETE", "/faults")


def test_a_planned_failover_to_the_cluster_loses_nothing_written_before_the_final_backup(drlab):
    """Site A up: the final backup (mirrors updated), hvclus01's VMs shut down, one more update, then the failover to the
    cluster: every VM runs there as a cluster role with what its guest wrote last, which no earlier backup had."""
    drlab.control("DELETE", "/faults")
    drlab.reset()
    site = LabSite(drlab)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", VMS)
    for vm in VMS:
        write(drlab, vm, DATA, "%s: before" % vm)
    first = site.backup("hvclus01", "web", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    for vm in VMS:
        write(drlab, vm, DATA, "%s: last words" % vm)
    site.ids = site.vm_ids("hvclus01", VMS)
    time.sleep(1.1)
    options = dict(mode="planned", final_backup=True, path_map={CSV1: CSV3})
    planned = smhv_failover.run(cluster_params(site, drlab, **options), True)
    assert planned["actions"][0] == "back up dataset web on hvclus01 with SnapMirror update (the final backup)"
    result = smhv_failover.run(cluster_params(site, drlab, **options), False)
    (final,) = result["prepared"]["final_backups"]
    assert result["mode"] == "planned" and result["recovery_points"][0]["backup"] == final != first["backup"]["name"]
    at_a = {vm["name"]: vm["state"] for host in ("hv01", "hv02") for vm in drlab.state()["hosts"][host]["vms"] if vm["name"] in VMS}
    assert at_a == {name: "Off" for name in VMS}  # shut down at the primary, still registered there
    assert at_site_b(drlab) == sorted((name, site.ids[name], "Running", "hvdr02") for name in VMS)
    cluster = drlab.state()["failover_clusters"]["hvdrclus01"]
    assert sorted(role["name"] for role in cluster["vm_roles"].values()) == VMS
    with site.session("hvdrclus01") as session:
        for vm in result["plan"]["vms"]:
            folder = vm["config_path"].split("\\Virtual Machines\\")[0]
            disks = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                     if item["path"].lower().endswith(".vhdx")]
            text = "\n".join(found["content"] for found in session.owner.call("file_read", {"paths": disks}).result["files"])
            assert "%s: last words" % vm["name"] in text and "%s: before" % vm["name"] not in text
    again = smhv_failover.run(cluster_params(site, drlab, **options), False)
    assert again["changed"] is False and again["prepared"] is None
