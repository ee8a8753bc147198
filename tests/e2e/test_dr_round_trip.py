"""`make dr-round-trip` as a newcomer runs it (lab/smhv_lab/round_trip.py): its own lab, the DR playbooks run with
ansible-playbook - failover with site A down, work at site B, site A back, the failback in check mode and then for real,
the reprotect - and every VM's guest file printed at each stage from the disk of the host that holds it. The script
checks each stage's data itself and exits non-zero otherwise; this test checks that it told every stage."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from lab_fixture import REPO_ROOT, ansible_env

STAGES = ("1. hv03 at site A", "2. Site A is lost", "3. Fail over to hvdr01", "4. The VMs work at site B", "5. Site A is back",
          "6. What the failback would do", "7. Fail back to hv03", "8. Reprotect")


def test_the_round_trip_tells_each_stage_with_its_guest_data():
    env = dict(os.environ)
    env.pop("SMHV_DEMO_KEEP", None)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "smhv_lab.round_trip"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=900, check=False)
    print("\nDR round trip: %.1f s" % (time.monotonic() - started))
    assert run.returncode == 0, f"the round trip failed:\n{run.stdout[-6000:]}\n{run.stderr[-4000:]}"
    assert [stage for stage in STAGES if stage not in run.stdout] == [], run.stdout
    stages = dict(re.findall(r"^(\d)\. .*?\n(.*?)(?=^\d\. |^Stopping the lab)", run.stdout, re.MULTILINE | re.DOTALL))
    assert "vm-print01 on hvdr01: Running, C:\\data\\ledger.txt reads 'vm-print01: written at site A'" in stages["3"]
    assert "Check mode: the failback of hv03 from hvdr01 would:" in stages["6"]
    assert "vm-print01 on hv03  : Running, C:\\data\\ledger.txt reads 'vm-print01: written at site B'" in stages["7"]
    assert "vm-print01 on hvdr01: Off" in stages["7"]
    assert "vm-print01 on hvdr01: not registered" in stages["8"]
    assert "svm_hv:vol_hv03 -> svm_dr:vol_hv03_dr (on cluster-b): snapmirrored" in stages["8"]
    assert "0 ONTAP requests, 0 WinRM messages, 0 agent calls)" in stages["2"]  # losing site A is the lab's doing
    sent = [tuple(map(int, found)) for found in re.findall(r"(\d+) ONTAP requests, (\d+) WinRM messages, (\d+) agent calls", stages["7"])]
    assert len(sent) == 1 and min(sent[0]) > 0, stages["7"]
    assert "Round trip finished" in run.stdout


def test_the_failback_play_stops_naming_the_role_variables_to_look_at(lab, tmp_path):
    """Site B does not answer: the readiness checks of the DR host and the DR storage fail, and the role stops before any
    change with each failed check and the role variable behind it."""
    lab.control("DELETE", "/faults")
    lab.reset()
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    extra = {"smhv_primary_host": "hv03", "smhv_dr_host": "hvdr01", "smhv_snapinfo_path": "S:\\SnapInfo",
             "smhv_dr_storage_systems": ["127.0.0.1:%d" % port], "smhv_confirm": True}
    lab.control("POST", "/site", {"site": "b", "state": "down"})
    try:
        run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory),
                              str(REPO_ROOT / "playbooks" / "dr_failback.yml"), "-e", json.dumps(extra)],
                             env=ansible_env(tmp_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"), capture_output=True, text=True,
                             timeout=600, check=False)
    finally:
        lab.control("DELETE", "/faults")
    assert run.returncode != 0, run.stdout[-4000:]
    output = run.stdout
    assert "Not ready to fail hv03 back from hvdr01:" in output, output[-4000:]
    assert "look at smhv_dr_failback_dr_host" in output and "look at smhv_dr_failback_dr_storage_systems" in output
    assert "look at smhv_dr_failback_primary_host" not in output  # site A answered
    assert "TASK [netapp_hyperv.smhv.smhv_dr_failback : Fail back]" not in output
