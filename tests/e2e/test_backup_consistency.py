"""smhv_backup end to end on the lab: a playbook takes an application-consistent and a crash-consistent
backup of a guest with a write in flight, and the snapshots prove which one captured it complete;
retention and SnapMirror show on the ONTAP simulators. Then the failure matrix: a fault at each step
of the engine (ONTAP error, failed ONTAP job, lost agent answer, WinRM connection dropped over PSRP and
over WinRS, agent error, a dataset rule failing after the checkpoints were made), after which nothing
is left behind and the next backup succeeds."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite
from lab_fixture import ansible_env

CLUSTER_SNAPINFO = "S:\\SnapInfo"
PROD = ["vm-web01", "vm-web02", "vm-db01", "vm-db02"]
DATA_VOLUMES = ["vol_csv1", "vol_csv2"]
DB = "C:\\data\\orders.db"
PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/netapp_hyperv.smhv.smhv:
      storage_systems: "{{ smhv_storage_systems }}"
      winrm: "{{ smhv_winrm }}"
      host_addresses: "{{ smhv_host_addresses }}"
  vars:
    db: 'C:\\data\\orders.db'
  tasks:
    - name: The guest writes an order; the write is still in flight
      ansible.builtin.uri: {url: "{{ control }}/guest-data", method: POST, body_format: json,
                            body: {vm: vm-db02, path: "{{ db }}", data: "order 1001: paid", in_flight: true}}
    - name: Application-consistent backup, mirrored, keep 1 daily
      netapp_hyperv.smhv.smhv_backup:
        hyperv_host: hvclus01
        dataset: prod
        update_snapmirror: true
        retention: {tag: daily, count: 1}
      register: app
    - name: What the application-consistent snapshot holds
      ansible.builtin.uri: {url: "{{ control }}/snapshot-guest-data?vm=vm-db02&path={{ db | urlencode }}&snapshot={{ app.backup.name }}"}
      register: app_view
    - name: Another order, in flight
      ansible.builtin.uri: {url: "{{ control }}/guest-data", method: POST, body_format: json,
                            body: {vm: vm-db02, path: "{{ db }}", data: "order 1002: shipped", in_flight: true}}
    - name: Crash-consistent backup, keep 1 hourly
      netapp_hyperv.smhv.smhv_backup:
        hyperv_host: hvclus01
        dataset: prod
        backup_type: crash
        retention: {tag: hourly, count: 1}
      register: crash
    - name: What the crash-consistent snapshot holds
      ansible.builtin.uri: {url: "{{ control }}/snapshot-guest-data?vm=vm-db02&path={{ db | urlencode }}&snapshot={{ crash.backup.name }}"}
      register: crash_view
    - name: The next daily backup replaces the first one (retention), mirrored again
      netapp_hyperv.smhv.smhv_backup:
        hyperv_host: hvclus01
        dataset: prod
        update_snapmirror: true
        retention: {tag: daily, count: 1}
      register: app2
    - name: Results for the test
      ansible.builtin.copy:
        content: "{{ {'app': app, 'crash': crash, 'app2': app2, 'app_view': app_view.json, 'crash_view': crash_view.json} | to_json }}"
        dest: "{{ results_file }}"
"""


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hvclus01", CLUSTER_SNAPINFO)
    site.dataset("hvclus01", CLUSTER_SNAPINFO, "prod", PROD)
    with site.session("hvclus01") as session:  # a post-script on both nodes, for the post_script step
        for node, client in dict(session.other_nodes(), hv01=session.owner).items():
            client.call("file_write", {"path": "C:\\scripts\\post.cmd", "content": "echo ok %1\r\n", "create_dirs": True})
    return site


def snapshots(lab, volume, cluster="cluster-a"):
    return [s for s in lab.state()["ontap"][cluster]["volumes"][volume]["snapshots"] if not s.startswith("snapmirror.")]


def guest_in_snapshot(lab, vm, snapshot, path=DB):
    return lab.control("GET", "/snapshot-guest-data?" + urlencode({"vm": vm, "path": path, "snapshot": snapshot}))


def test_application_captures_in_flight_writes_and_crash_does_not(site, lab, tmp_path):
    results = tmp_path / "results.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY)
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(playbook),
               "-e", "results_file=%s" % results, "-e", "control=%s" % lab.control_url]
    run = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    out = json.loads(results.read_text())
    app, crash, app2 = out["app"], out["crash"], out["app2"]
    assert app["changed"] and app["backup"]["method"] == "checkpoint" and crash["backup"]["method"] == "crash"
    assert [s["snapshots"] for s in app["snapshots"]] == [[app["backup"]["name"]]] * 2  # one per CSV volume
    assert app["timings"]["checkpoint_seconds_max"] > 0

    # The guest's writes in flight: complete in the application-consistent snapshot (the production
    # checkpoint made the guest flush), torn in the crash-consistent one (half of it, not flushed).
    assert (out["app_view"]["data"], out["app_view"]["complete"]) == ("order 1001: paid", True)
    assert (out["crash_view"]["data"], out["crash_view"]["complete"]) == ("order 100", False)
    assert guest_in_snapshot(lab, "vm-db02", crash["backup"]["name"]) == out["crash_view"]  # still there

    # Retention: the second daily backup deleted the first; the hourly one is another tag, kept.
    assert app2["retention"]["deleted"] == [app["backup"]["name"]]
    for volume in DATA_VOLUMES:
        assert snapshots(lab, volume) == [crash["backup"]["name"], app2["backup"]["name"]]
    # SnapMirror: the destination holds the newest daily backup (and no longer the deleted one).
    assert {r["state"] for r in app2["replication"]} == {"success"} and len(app2["replication"]) == 2
    for volume in ("vol_csv1_dr", "vol_csv2_dr"):
        assert app2["backup"]["name"] in snapshots(lab, volume, "cluster-b")
    # (Retention runs after the update, so the deleted backup leaves the destination with the next update.)
    assert all(not vm["checkpoints"] for host in lab.state()["hosts"].values() for vm in host["vms"])


# (step, fault) pairs: every step of the engine, through the lab's control API. The checkpoint call also
# inventories, so its faults come after some node has made checkpoints: hv02's agent fails while hv01's
# succeeds; an answer is lost after its checkpoints were made (hv01's agent output; the WinRM connection
# carrying hv02's answer, dropped: over PSRP hv02's second Receive, after the pool's open, over WinRS its
# first); a VM of hv02 saved since the dataset was made fails the rule check with hv01's checkpoints made.
FAULTS = [
    ("catalog", {"target": "agent", "kind": "agent_error", "match": {"op": "file_read"}}),
    ("checkpoint", {"target": "agent", "kind": "agent_error", "match": {"op": "backup_checkpoint", "host": "hv02"}}),
    ("checkpoint", {"target": "agent", "kind": "drop", "match": {"op": "backup_checkpoint", "host": "hv01"}}),
    ("checkpoint", {"target": "winrm", "kind": "drop", "match": {"action": "Receive", "host": "hv02"}, "nth": 2}),
    ("checkpoint", {"target": "winrm", "kind": "drop", "match": {"action": "Receive", "host": "hv02"}, "protocol": "winrm"}),
    ("validate", {"target": "vm", "vm": "vm-db02", "state": "Saved"}),
    ("snapshot", {"target": "ontap", "kind": "http_error", "match": {"method": "POST", "path": ".*consistency-groups/.*/snapshots"}}),
    ("snapshot", {"target": "ontap", "kind": "job_failure", "match": {"method": "POST", "path": ".*consistency-groups"}}),
    ("release_checkpoints", {"target": "agent", "kind": "agent_error", "match": {"op": "checkpoint_remove", "host": "hv02"}}),
    # The coordinator's 6th file_write is the record: the lease, the journal (the name's claim), the checkpoint,
    # snapshot and record intents come first.
    ("record", {"target": "agent", "kind": "agent_error", "match": {"op": "file_write"}, "nth": 6}),
]
# After the commit point (the record written) a failure keeps the backup, with a warning naming the step.
KEPT_FAULTS = [
    ("replication", {"target": "ontap", "kind": "http_error", "match": {"method": "POST", "path": ".*/transfers"}}),
    ("post_script", {"target": "agent", "kind": "agent_error", "match": {"op": "run_script"}}),
    ("snapinfo", {"target": "ontap", "kind": "http_error", "match": {"method": "POST", "path": ".*/storage/volumes/.*/snapshots"}}),
]
POST_SCRIPT = {"path": "C:\\scripts\\post.cmd", "arguments": ["$VMSnapshot"], "host": None, "timeout": 60}


def options_for(step):
    """Only what the step needs, so each run stays short: replication and scripts where they are tested."""
    options = {"retention": {"tag": "weekly", "count": 2, "age": None}}
    if step == "replication":
        options["update_snapmirror"] = True
    if step == "post_script":
        options["post_script"] = POST_SCRIPT
    return options


def fault_id(step, fault):
    return "-".join([step, fault["target"], fault.get("kind") or fault["state"]] + ([fault["protocol"]] if "protocol" in fault else []))


@pytest.mark.parametrize("step,fault", FAULTS, ids=[fault_id(s, f) for s, f in FAULTS])
def test_failure_matrix(site, lab, step, fault):
    options = options_for(step)
    fault = dict(fault)
    if "protocol" in fault:
        options["winrm"] = dict(site.common["winrm"], protocol=fault.pop("protocol"))
    lab.control("DELETE", "/faults")
    if fault["target"] == "vm":
        lab.control("POST", "/vm", {"vm": fault["vm"], "state": fault["state"]})
    else:
        lab.control("POST", "/faults", dict({"nth": 1, "times": 1}, **fault))
    try:
        with pytest.raises(SmhvError) as failed:
            site.backup("hvclus01", "prod", **options)
    finally:
        lab.control("DELETE", "/faults")
        if fault["target"] == "vm":
            lab.control("POST", "/vm", {"vm": fault["vm"], "state": "Running"})
    error = failed.value
    assert error.details["step"] == step and ("failed at step %s:" % step) in error.message, error.message
    name = error.details["backup"]
    state = lab.state()
    assert all(not vm["checkpoints"] for host in state["hosts"].values() for vm in host["vms"]), "checkpoints left behind"
    for volume in DATA_VOLUMES:
        assert not [s for s in snapshots(lab, volume) if s.startswith(name)], "snapshots left behind"
    records = [status for backup, status in site.backups("hvclus01", CLUSTER_SNAPINFO, "prod") if backup == name]
    before_lease = step == "catalog"
    assert records == ([] if before_lease else ["failed"])
    if not before_lease:
        assert error.details["undo"]["left_behind"] == []
    if step in ("checkpoint", "validate"):  # some node made its checkpoints: removed by name
        assert "removed checkpoint smhv_%s" % name in error.details["undo"]["undone"], error.details["undo"]
    if fault["target"] == "winrm":  # the call reached hv02 and its answer was lost: not re-sent, cleaned up by name
        assert error.details["failures"]["hv02"]["details"]["may_have_run"] is True, error.details["failures"]
    if step == "validate":
        assert error.code == "VM_STATE_NOT_ALLOWED" and "vm-db02 is Saved" in error.message
    # The lease was released: the next backup runs at once and succeeds.
    assert site.backup("hvclus01", "prod", **options)["backup"]["status"] == "ok"


@pytest.mark.parametrize("step,fault", KEPT_FAULTS, ids=[fault_id(s, f) for s, f in KEPT_FAULTS])
def test_a_failure_after_the_commit_point_keeps_the_backup(site, lab, step, fault):
    lab.control("DELETE", "/faults")
    lab.control("POST", "/faults", dict({"nth": 1, "times": 1}, **fault))
    try:
        result = site.backup("hvclus01", "prod", **options_for(step))
    finally:
        lab.control("DELETE", "/faults")
    name = result["backup"]["name"]
    assert result["changed"] is True and result["backup"]["status"] == "ok"
    assert [w["step"] for w in result["backup"]["warnings"]] == [step], result["backup"]["warnings"]
    for volume in DATA_VOLUMES:
        assert name in snapshots(lab, volume)
    assert (name, "ok") in site.backups("hvclus01", CLUSTER_SNAPINFO, "prod")
    state = lab.state()
    assert all(not vm["checkpoints"] for host in state["hosts"].values() for vm in host["vms"]), "checkpoints left behind"
    assert site.backup("hvclus01", "prod", **options_for(step))["backup"]["warnings"] == []  # the lease was released
