"""smhv_host and smhv_snapinfo against the lab beyond their targets: a DR-style SnapInfo restore
checked file by file over WinRM, and no secret in `-vvv` output."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient
from lab_fixture import ansible_env

DEFAULTS = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/netapp_hyperv.smhv.smhv:
      storage_systems: "{{ smhv_storage_systems }}"
      winrm: "{{ smhv_winrm }}"
      host_addresses: "{{ smhv_host_addresses }}"
  tasks:
"""


def play(lab, tmp_path, tasks, *options):
    playbook = tmp_path / "play.yml"
    playbook.write_text(DEFAULTS + tasks)
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(playbook), *options],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)


def host_client(lab, name):
    variables = yaml.safe_load(lab.inventory.read_text())["all"]["vars"]
    return HostClient(name, variables["smhv_winrm"], variables["smhv_host_addresses"])


def test_dr_restore_brings_the_catalog_back_and_drops_later_files(lab, tmp_path):
    lab.reset()
    taken = play(lab, tmp_path, """
    - netapp_hyperv.smhv.smhv_host: {hyperv_host: hv03, snapinfo_path: 'S:\\', report_path: 'C:\\SMHV\\Reports', create_snapinfo: true}
    - netapp_hyperv.smhv.smhv_snapinfo: {hyperv_host: hv03}
""")
    assert taken.returncode == 0, taken.stdout[-4000:]
    with host_client(lab, "hv03") as host:
        scope_before = host.call("file_read", {"paths": ["S:\\smhv\\v1\\scope.json"]}).result["files"][0]
        host.call("file_write", {"path": "S:\\smhv\\v1\\datasets\\after-the-snapshot.json", "content": "{}", "create_dirs": True})
        host.call("file_write", {"path": "S:\\smhv\\v1\\scope.json", "content": "damaged"})
    restored = play(lab, tmp_path, """
    - netapp_hyperv.smhv.smhv_snapinfo: {hyperv_host: hv03, state: restored}
      register: restored
    - ansible.builtin.copy: {content: "{{ restored | to_json }}", dest: "{{ playbook_dir }}/restored.json"}
""")
    assert restored.returncode == 0, restored.stdout[-4000:]
    result = json.loads((tmp_path / "restored.json").read_text())
    assert result["restored_from"].startswith("smhv_snapinfo_hv03_") and result["scope_record"]["name"] == "hv03"
    with host_client(lab, "hv03") as host:
        files = host.call("file_read", {"paths": ["S:\\smhv\\v1\\scope.json", "S:\\smhv\\v1\\datasets\\after-the-snapshot.json"],
                                        "missing_ok": True}).result["files"]
    assert files[0]["sha256"] == scope_before["sha256"] and files[0]["content"] == scope_before["content"]
    assert files[1]["exists"] is False


def test_no_password_in_verbose_output(lab, tmp_path):
    lab.reset()
    endpoints = lab.endpoints
    secrets = {system["password"] for system in endpoints["ontap"].values()} | {host["password"] for host in endpoints["hosts"].values()}
    run = play(lab, tmp_path, """
    - netapp_hyperv.smhv.smhv_host: {hyperv_host: hvclus01, snapinfo_path: 'S:\\SnapInfo', report_path: 'C:\\SMHV\\Reports',
                                     create_snapinfo: true}
    - netapp_hyperv.smhv.smhv_host_info: {hyperv_host: hv02}
    - netapp_hyperv.smhv.smhv_snapinfo: {hyperv_host: hvclus01}
    - netapp_hyperv.smhv.smhv_snapinfo_info: {hyperv_host: hvclus01}
    - netapp_hyperv.smhv.smhv_snapinfo: {hyperv_host: hvclus01, state: restored}
    - name: A failure (report path on a CSV) must not leak them either
      netapp_hyperv.smhv.smhv_host: {hyperv_host: hvclus01, snapinfo_path: 'S:\\SnapInfo', report_path: 'C:\\ClusterStorage\\Volume1\\R'}
      ignore_errors: true
    - netapp_hyperv.smhv.smhv_host: {hyperv_host: hvclus01, state: absent}
""", "-vvv")
    output = run.stdout + run.stderr
    assert run.returncode == 0, run.stdout[-4000:]
    assert "PATH_NOT_ALLOWED" in output and "smhv_snapinfo_hvclus01_" in output  # the modules really ran, verbosely
    assert secrets and all(len(secret) >= 8 for secret in secrets)
    for secret in secrets:
        assert secret not in output
