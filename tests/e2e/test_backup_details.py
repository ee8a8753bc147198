"""smhv_backup_info's backup_details through the lab (ansible-playbook, real WinRM and ONTAP REST): each backup's whole
record, with every VM's files, checked against the lab's world - each file is the VM's configuration or one of its
virtual disks as Hyper-V has them, on the LUN whose serial the record names, in the volume and cluster the record names,
and every snapshot the record lists for it exists in that volume.

hv03's dataset mixed spans two volumes (vm-file01 on J: and vm-print01 on K: in vol_hv03, vm-sql01 on L: in
vol_hv03_sql); one backup by SnapDrive's VSS provider (two snapshots per volume) and one crash-consistent.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e.backup_support import LabSite
from lab_fixture import ansible_env

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-file01", "vm-print01", "vm-sql01"]
PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/netapp_hyperv.smhv.smhv:
      storage_systems: "{{ smhv_storage_systems }}"
      winrm: "{{ smhv_winrm }}"
      host_addresses: "{{ smhv_host_addresses }}"
  tasks:
    - netapp_hyperv.smhv.smhv_backup_info: {hyperv_host: hv03, gather: [backups], dataset: mixed, backup_details: true}
      register: details
    - netapp_hyperv.smhv.smhv_backup_info: {hyperv_host: hv03, gather: [backups], dataset: mixed}
      register: summaries
    - netapp_hyperv.smhv.smhv_backup_info: {hyperv_host: hv03, gather: [backups], dataset: mixed, vm: vm-sql01, backup_type: crash,
                                            backup_details: true}
      register: filtered
    - ansible.builtin.copy: {content: "{{ {'details': details, 'summaries': summaries, 'filtered': filtered} | to_json }}",
                             dest: "{{ playbook_dir }}/results.json"}
"""


@pytest.fixture(scope="module")
def listed(lab, tmp_path_factory):
    """(the two backups' module results, the three smhv_backup_info results, the lab's state after them)."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "mixed", VMS)
    vss = site.backup("hv03", "mixed", backup_method="vss_provider")
    time.sleep(1.1)  # backup names are unique to the second
    crash = site.backup("hv03", "mixed", backup_type="crash")
    assert vss["backup"]["status"] == crash["backup"]["status"] == "ok"
    tmp_path = tmp_path_factory.mktemp("details")
    (tmp_path / "play.yml").write_text(PLAY)
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(tmp_path / "play.yml")],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    yield [vss, crash], json.loads((tmp_path / "results.json").read_text()), lab.state()
    lab.reset()


def luns_by_serial(state):
    """serial -> (cluster, svm, volume, the volume's snapshots, the LUN's file listing) in the lab's world."""
    return {lun["serial"]: (cluster, volume["svm"], name, volume["snapshots"], lun["files"])
            for cluster, storage in state["ontap"].items() for name, volume in storage["volumes"].items()
            for lun in volume["luns"].values()}


def world_files(state, vm_name):
    """{path: (kind, serial)} of a VM's configuration and virtual disks as hv03 has them, each on the disk of its drive."""
    host = state["hosts"]["hv03"]
    (vm,) = [vm for vm in host["vms"] if vm["name"] == vm_name]
    serial_of = {path.lower(): disk["serial"] for disk in host["disks"] for path in disk["access_paths"]}
    files = {vm["config_path"]: "config"}
    files.update({path: "vhd" for path in vm["vhd_paths"]})
    return {path: (kind, serial_of[path[:3].lower()]) for path, kind in files.items()}


def test_each_vm_has_its_files_as_the_world_holds_them(listed):
    taken, results, state = listed
    details = results["details"]
    assert not details.get("failed"), details
    assert [b["name"] for b in details["backups"]] == [t["backup"]["name"] for t in taken]
    luns = luns_by_serial(state)
    for backup, result in zip(details["backups"], taken):
        assert (backup["method"], backup["status"]) == (result["backup"]["method"], "ok")
        snapshot_names = result["snapshots"][0]["snapshots"]  # vss_provider: the backup and its _backup twin; crash: one
        assert sorted(vm["name"] for vm in backup["vms"]) == VMS
        for vm in backup["vms"]:
            expected = world_files(state, vm["name"])
            assert {f["path"]: (f["kind"], f["lun_serial"]) for f in vm["files"]} == expected, vm["name"]
            for found in vm["files"]:
                cluster, svm, volume, snapshots, listing = luns[found["lun_serial"]]
                assert (found["cluster"], found["svm"], found["volume"]) == (cluster, svm, volume)
                assert found["path"][3:].lower() in [path.lower() for path in listing], (found["path"], listing)
                assert found["snapshots"] == snapshot_names and set(snapshot_names) <= set(snapshots), (found, snapshots)


def test_details_are_whole_records_and_summaries_are_not(listed):
    taken, results, state = listed
    summaries = results["summaries"]["backups"]
    assert [b["name"] for b in summaries] == [t["backup"]["name"] for t in taken]
    assert all("vms" not in b for b in summaries)
    assert [(b["name"], b["backup_type"], b["retention_tag"]) for b in summaries] == [
        (b["name"], b["backup_type"], b["retention_tag"]) for b in results["details"]["backups"]]


def test_a_vm_and_type_filter_with_details(listed):
    taken, results, state = listed
    (backup,) = results["filtered"]["backups"]
    assert backup["name"] == taken[1]["backup"]["name"] and backup["method"] == "crash"
    assert {f["path"] for vm in backup["vms"] if vm["name"] == "vm-sql01" for f in vm["files"]} == set(world_files(state, "vm-sql01"))
