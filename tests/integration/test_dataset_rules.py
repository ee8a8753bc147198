"""The dataset rules through the lab and the real modules (ansible-playbook): each case is a VM of the rules
topology (lab/smhv_lab/topologies/rules.yml), and each test asserts the error code and message, or the warning,
a user gets from smhv_dataset or smhv_backup."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab_fixture import REPO_ROOT, ansible_env, running_lab

RULES = REPO_ROOT / "lab" / "smhv_lab" / "topologies" / "rules.yml"
PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/netapp_hyperv.smhv.smhv:
      storage_systems: "{{ smhv_storage_systems }}"
      winrm: "{{ smhv_winrm }}"
      host_addresses: "{{ smhv_host_addresses }}"
  tasks:
    - netapp_hyperv.smhv.smhv_host: {hyperv_host: "{{ item }}", snapinfo_path: 'S:\\SnapInfo', report_path: 'C:\\SMHV\\Reports',
                                     create_snapinfo: true}
      loop: [hvrc01, hvr03]
%s
"""


@pytest.fixture(scope="module")
def rules_lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("rules") / "state", RULES) as handle:
        yield handle


def run(lab, tmp_path, tasks):
    """Register both scopes, then run `tasks` (YAML, indented as tasks), each `register: <name>` with ignore_errors
    wanted; the registered results, by name."""
    names = [line.split("register:")[1].strip() for line in tasks.splitlines() if "register:" in line]
    saved = "\n".join('    - ansible.builtin.copy: {content: "{{ %s | to_json }}", dest: "{{ playbook_dir }}/%s.json"}' % (name, name)
                      for name in names)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY % (tasks + "\n" + saved))
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(playbook)],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in names}


def dataset_task(host, name, vms, register="saved"):
    members = ", ".join("{vm: %s}" % vm for vm in vms)
    return ("    - netapp_hyperv.smhv.smhv_dataset: {hyperv_host: %s, name: %s, members: [%s]}\n"
            "      register: %s\n      ignore_errors: true" % (host, name, members, register))


def vm_id(lab, host, name):
    (found,) = [vm["id"] for vm in lab.state()["hosts"][host]["vms"] if vm["name"] == name]
    return found


def refused(result, code):
    assert result.get("failed") and result["error_code"] == code, result
    assert {problem["code"] for problem in result["error_details"]["problems"]} == {code}  # one problem per file
    return result["msg"]


def test_a_vm_file_not_on_an_ontap_lun(rules_lab, tmp_path):
    msg = refused(run(rules_lab, tmp_path, dataset_task("hvr03", "local", ["vm-local", "vm-san"]))["saved"], "NOT_ON_ONTAP")
    assert msg.startswith("Dataset local cannot be saved: 2 problems. (1) VM vm-local (")
    assert "config file C:\\VMs\\vm-local\\Virtual Machines\\" in msg and "vhd file C:\\VMs\\vm-local\\Virtual Hard Disks\\vm-local.vhdx" in msg
    assert "on disk 0 (serial HVR03-OS), which is not an ONTAP LUN" in msg
    assert "move the VM's storage to an ONTAP LUN (Move-VMStorage) or remove the VM from the dataset" in msg
    assert "vm-san" not in msg


def test_smb_and_san_vms_in_one_dataset(rules_lab, tmp_path):
    msg = refused(run(rules_lab, tmp_path, dataset_task("hvr03", "mixed", ["vm-smb", "vm-san"]))["saved"], "DATASET_MIXES_SMB_SAN")
    assert msg == ("Dataset mixed cannot be saved: 1 problem. (1) The dataset mixes VMs on SMB shares (vm-smb) with VMs on SAN "
                   "LUNs (vm-san), which SMHV does not support; split them into two datasets.")


def test_dedicated_and_clustered_vms_in_one_dataset(rules_lab, tmp_path):
    msg = refused(run(rules_lab, tmp_path, dataset_task("hvrc01", "ha", ["vm-ha01", "vm-dedicated"]))["saved"],
                  "DATASET_MIXES_CLUSTERED")
    assert msg == ("Dataset ha cannot be saved: 1 problem. (1) The dataset mixes clustered VMs (vm-ha01) with dedicated VMs "
                   "(vm-dedicated) of hvrc01; backups of such a dataset fail. Put the dedicated VMs in a dataset of their own.")


def test_an_mbr_disk_on_a_csv(rules_lab, tmp_path):
    msg = refused(run(rules_lab, tmp_path, dataset_task("hvrc01", "mbr", ["vm-mbr"]))["saved"], "MBR_LUN_ON_CSV")
    assert msg.startswith("Dataset mbr cannot be saved: 2 problems. (1) VM vm-mbr (")
    assert "C:\\ClusterStorage\\Volume2\\vm-mbr\\Virtual Hard Disks\\vm-mbr.vhdx is on CSV Cluster Disk 2, an MBR-partitioned LUN" in msg
    assert msg.endswith("VMs on CSVs need GPT LUNs. Move the VM to a CSV on a GPT LUN.")


def test_a_passthrough_disk_is_warned_about_and_left_out_of_the_backup(rules_lab, tmp_path):
    results = run(rules_lab, tmp_path, dataset_task("hvr03", "pt", ["vm-passthrough"]) + """
    - netapp_hyperv.smhv.smhv_backup: {hyperv_host: hvr03, dataset: pt}
      register: backup
      ignore_errors: true""")
    warning = ("pass-through disk 2 (serial %s) at SCSI 0:1 is not in the backup; protect its data inside the guest, or convert it to "
               "a VHDX on an ONTAP LUN.")
    saved, backup = results["saved"], results["backup"]
    assert not saved.get("failed") and saved["changed"], saved
    (said,) = [w for w in saved["warnings"] if "pass-through" in w]
    serial = said.split("(serial ")[1].split(")")[0]
    assert said.startswith("VM vm-passthrough (") and said.endswith(warning % serial)
    assert not backup.get("failed"), backup
    assert any(w.endswith(warning % serial) for w in backup["warnings"])
    assert [(v["cluster"], v["volume"]) for v in backup["snapshots"]] == [("cluster-a", "vol_r03")]  # not lun_pt's vol_pt
    assert [(vm["name"], vm["outcome"]) for vm in backup["vms"]] == [("vm-passthrough", "online")]


def test_a_virtual_fibre_channel_adapter_is_warned_about_and_left_out_of_the_backup(rules_lab, tmp_path):
    results = run(rules_lab, tmp_path, dataset_task("hvr03", "vfc", ["vm-vfc"]) + """
    - netapp_hyperv.smhv.smhv_backup: {hyperv_host: hvr03, dataset: vfc}
      register: backup
      ignore_errors: true""")
    # Hyper-V's port names for the adapter's two sets (C003FF and 10 hex digits), the second one after the first.
    warning = re.compile(r"VM vm-vfc \(%s\) on hvr03: the LUNs of its virtual Fibre Channel adapter on SAN fabric-a \(WWPN "
                         r"(C003FF[0-9A-F]{10}), (C003FF[0-9A-F]{10})\) are not in the backup; protect their data inside the guest, "
                         r"or move it to a VHDX on an ONTAP LUN\.$" % vm_id(rules_lab, "hvr03", "vm-vfc"))
    saved, backup = results["saved"], results["backup"]
    assert not saved.get("failed") and saved["changed"], saved
    (said,) = [found for found in map(warning.match, saved["warnings"]) if found]
    assert int(said[2], 16) == int(said[1], 16) + 1
    assert not backup.get("failed"), backup
    assert said[0] in backup["warnings"]
    assert [(v["cluster"], v["volume"]) for v in backup["snapshots"]] == [("cluster-a", "vol_r03")]  # its VHDX's volume only
    assert [(vm["name"], vm["outcome"]) for vm in backup["vms"]] == [("vm-vfc", "online")]


@pytest.mark.parametrize("kind", ["live", "storage"])
def test_a_vm_in_migration_is_left_out_alone(rules_lab, tmp_path, kind):
    rules_lab.control("POST", "/vm", {"vm": "vm-moving", "migration": kind})
    try:
        results = run(rules_lab, tmp_path, dataset_task("hvr03", "moving_" + kind, ["vm-san", "vm-moving"]) + """
    - netapp_hyperv.smhv.smhv_backup: {hyperv_host: hvr03, dataset: moving_%s}
      register: backup
      ignore_errors: true""" % kind)
    finally:
        rules_lab.control("POST", "/vm", {"vm": "vm-moving", "migration": ""})
    backup = results["backup"]
    assert not results["saved"].get("failed") and not backup.get("failed"), backup
    assert {vm["name"]: vm["outcome"] for vm in backup["vms"]} == {"vm-san": "online", "vm-moving": "skipped"}
    left_out = "VM vm-moving is in %s migration; it cannot be backed up now and is left out of this backup." % kind
    assert left_out in backup["warnings"]
