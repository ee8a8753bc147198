"""Long operations under Ansible's async (docs/user-guide.md, "Long operations: async and poll"), through the lab with
ansible-playbook: a backup started with poll 0 and awaited with async_status, and one polled by Ansible, which prints
its sign of life (ASYNC POLL) while the backup runs; both land in the catalog as ordinary backups."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from e2e.backup_support import LabSite
from lab_fixture import ansible_env

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-file01", "vm-file02"]
CONNECTION = {"winrm": "{{ smhv_winrm }}", "storage_systems": "{{ smhv_storage_systems }}",
              "host_addresses": "{{ smhv_host_addresses | default({}) }}"}
BACKUP = {"hyperv_host": "hv03", "dataset": "files", "backup_type": "application", "retention": {"tag": "daily", "count": 7}}
PLAY = [{
    "name": "Backups under async",
    "hosts": "localhost",
    "gather_facts": False,
    "module_defaults": {"group/netapp_hyperv.smhv.smhv": CONNECTION},
    "tasks": [
        {"name": "Start a backup and go on", "netapp_hyperv.smhv.smhv_backup": BACKUP, "async": 900, "poll": 0,
         "register": "started"},
        {"name": "Wait for it", "ansible.builtin.async_status": {"jid": "{{ started.ansible_job_id }}"}, "register": "fired",
         "until": "fired.finished", "retries": 300, "delay": 1},
        {"name": "Say what the first one took", "ansible.builtin.debug": {"msg": "fired: {{ fired.backup.name }} changed={{ fired.changed }}"}},
        {"name": "A backup Ansible polls", "netapp_hyperv.smhv.smhv_backup": BACKUP, "async": 900, "poll": 1, "register": "polled"},
        {"name": "Say what the second one took", "ansible.builtin.debug": {"msg": "polled: {{ polled.backup.name }} changed={{ polled.changed }}"}},
    ],
}]


@pytest.fixture(scope="module")
def run(lab, tmp_path_factory):
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "files", VMS)
    folder = tmp_path_factory.mktemp("async")
    play = folder / "async_backup.yml"
    play.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(play)],
                          env=ansible_env(folder, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_ASYNC_DIR=str(folder / "async")),
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{done.stdout[-8000:]}\n{done.stderr[-3000:]}"
    return site, done.stdout


def test_a_backup_started_with_poll_0_finishes_and_is_recorded(run):
    site, output = run
    name = re.search(r"fired: (\S+) changed=True", output)
    assert name, output[-4000:]
    assert (name[1], "ok") in site.backups("hv03", SNAPINFO, "files")


def test_a_polled_backup_shows_it_is_alive_and_is_recorded(run):
    site, output = run
    assert re.search(r"ASYNC POLL on localhost: jid=\S+ started=(1|True) finished=(0|False)", output), output[-4000:]
    name = re.search(r"polled: (\S+) changed=True", output)
    assert name, output[-4000:]
    assert (name[1], "ok") in site.backups("hv03", SNAPINFO, "files")
