"""smhv_failover at scale: an unplanned failover of 100 VMs on 20 volumes to the DR site, with the lab's latency at
20 ms per ONTAP request and 50 ms per WinRM message, against the seed's runbook done as a playbook.

    PYTHONPATH=.cache/collections:tests .venv/bin/python benchmarks/dr_failover.py [--dr cluster|standalone|both (default)]
        [--jobs instant|realistic|both] [--no-baseline]

Starts a lab on lab/smhv_lab/topologies/bench.yml (site a: the 8-node cluster hvbench, 200 VMs on 20 CSV volumes;
site b: cluster-b with a SnapMirror destination of each volume and of the SnapInfo volume, the standalone DR host
hbdr01 and the 2-node DR cluster hvbenchdr). For each case: the lab is reset, hvbench registered, a dataset of the
case's VMs backed up (application-consistent, SnapMirror update), site A taken down (POST /site: every request to it
dropped), latency on, and smhv_failover's code path run in-process (smhv_failover.run, everything but AnsibleModule),
recovering the VMs on the DR target and starting them. Reported per case: wall time of the module, the module's
own phases (rto), ONTAP requests (StorageClient.call_counts), WinRM messages and agent calls per DR host (HostClient
stats), and the requests that reached site A (must be 0). Cases: 100 VMs on 20 volumes, 50 VMs on the same 20
volumes, 50 VMs on 10 volumes: counts that grow with volumes and hosts but not with VMs x calls change between
the last two, not between the first two.

ONTAP jobs (docs/lab.md, "Job timing"): `instant` is the orchestration alone; `realistic` adds the lab's job
durations (volume SnapRestore, break, LUN restore), which are ONTAP's time, not the module's. The target (issue 15)
is at most 15 s of orchestration for 100 VMs on 20 volumes to the 2-node DR cluster.

The baseline is the seed's runbook (TR-4226 chapter 8) as a playbook with one task per step and per object:
per destination volume a quiesce, a break (na_ontap_snapmirror) and a SnapRestore (na_ontap_volume), per LUN a
map (na_ontap_lun_map) and a connect (a Windows task), the SnapInfo LUN's break, restore, map, connect and the
host's registration, Get-VMsFromBackup, and per VM a restore (Restore-Backup) and a start (Start-VM), plus on a
cluster its Add-ClusterVirtualMachineRole. It is estimated, not run (the lab's hosts do not run Ansible's Windows
modules): an ONTAP task costs what one measured here costs (backup_scale.py's real ansible-playbook of one
na_ontap_snapshot task per volume against the lab's ONTAP, at the same latency); a Windows task
costs Ansible's own per-task time (the measured ONTAP task less its requests x 20 ms) plus 5 WinRM messages x 50 ms
(pywinrm's shell create, command, receive, signal and delete for one win_powershell task, the fewest it takes).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / ".cache" / "collections")]

from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover  # noqa: E402
from e2e.backup_support import LabSite  # noqa: E402
from lab_fixture import ansible_env, running_lab  # noqa: E402

from backup_scale import SNAPSHOT_PLAY, VOLUMES  # noqa: E402
from client_counters import ClientRecorder  # noqa: E402

TOPOLOGY = REPO / "lab" / "smhv_lab" / "topologies" / "bench.yml"
SOURCE, SNAPINFO = "hvbench", "S:\\SnapInfo"
DR_TARGETS = {"cluster": ("hvbenchdr", ["hbdr02", "hbdr03"]), "standalone": ("hbdr01", ["hbdr01"])}
VOLUME_COUNT = len(VOLUMES)
ONTAP_LATENCY, WINRM_LATENCY = 0.020, 0.050
WINRM_MESSAGES_PER_WINDOWS_TASK = 5
CASES = [(100, 20), (50, 20), (50, 10)]  # (VMs, volumes); vmNNN lives on CSV Volume(NNN % 20 + 1)


def case_vms(count, volumes):
    """The first `count` VMs of bench.yml that live on the first `volumes` CSVs."""
    return ["vm%03d" % number for number in range(200) if number % VOLUME_COUNT < volumes][:count]


def path_map(target):
    """A DR cluster has the CSVs at the same paths; a standalone DR host gets each CSV's LUN at a folder of its own."""
    if target == "cluster":
        return None
    return {"C:\\ClusterStorage\\Volume%d\\" % n: "C:\\DR\\Volume%d\\" % n for n in range(1, VOLUME_COUNT + 1)}


def latency(lab, ontap_seconds, winrm_seconds):
    lab.control("POST", "/latency", {"target": "ontap", "seconds": ontap_seconds})
    lab.control("POST", "/latency", {"target": "winrm", "seconds": winrm_seconds})


def prepare(lab, site, vms, jobs):
    """A fresh lab with a replicated backup of `vms`, and site A down: the ids of the rules that drop its requests."""
    lab.reset()
    lab.control("POST", "/ontap-jobs", {"profile": jobs})
    site.register(SOURCE, SNAPINFO)
    site.dataset(SOURCE, SNAPINFO, "dr", vms)
    backup = site.backup(SOURCE, "dr", backup_method="checkpoint", update_snapmirror=True)
    if backup["backup"]["status"] != "ok":
        raise RuntimeError("the backup before the failover failed: %s" % json.dumps(backup)[:2000])
    return lab.control("POST", "/site", {"site": "a", "state": "down"})["rules"]


def failover(site, lab, recorder, target, vms, volumes, jobs):
    site_a_rules = prepare(lab, site, vms, jobs)
    dr_host, nodes = DR_TARGETS[target]
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    params = dict(site.common, hyperv_host=dr_host, action="failover", mode="unplanned", source_scope=SOURCE,
                  dr_storage_systems=["127.0.0.1:%d" % port], snapinfo_path=SNAPINFO, snapinfo_lun=None, report_path="C:\\SMHV\\Reports",
                  vms=None, datasets=None, backup=None, path_map=path_map(target), luns=None, start=True, start_order=None, lease_ttl=1800,
                  drill_suffix="-drill", drill_check_timeout=300, drill_switch=None, drill_check_script=None, final_backup=True)
    latency(lab, ONTAP_LATENCY, WINRM_LATENCY)
    recorder.reset()
    started = time.monotonic()
    result = smhv_failover.run(params, False)
    wall = time.monotonic() - started
    latency(lab, 0, 0)
    reached_site_a = sum(rule["seen"] for rule in lab.control("GET", "/faults")["rules"] if rule["id"] in site_a_rules)
    lab.control("DELETE", "/faults")
    running = {vm["name"] for host in nodes for vm in lab.state()["hosts"][host]["vms"] if vm["state"] == "Running"}
    if sorted(running) != sorted(vms) or any(vm["outcome"] != "restored" for vm in result["vms"]):
        raise RuntimeError("the failover left %d of %d VMs running on %s" % (len(running), len(vms), dr_host))
    trips, calls = recorder.round_trips(), recorder.agent_calls()
    return {"dr": target, "jobs": jobs, "vms": len(vms), "volumes": volumes, "wall_seconds": round(wall, 2),
            "ontap_requests": recorder.ontap_calls(), "winrm_messages_per_host": trips, "agent_calls_per_host": calls,
            "requests_to_site_a": reached_site_a, "rto_phases": {p["phase"]: p["seconds"] for p in result["rto"]["phases"]},
            "rpo_seconds": result["rpo_seconds"], "warnings": len(result["warnings"])}


def ontap_task_seconds(lab, tmp):
    """(seconds per netapp.ontap task, ONTAP requests per task): backup_scale.py's playbook of one na_ontap_snapshot task
    per volume, run for real against the lab's cluster-a at the benchmark's latency."""
    playbook = tmp / "snapshots.yml"
    playbook.write_text(SNAPSHOT_PLAY)
    before = requests_served(lab, "cluster-a")
    latency(lab, ONTAP_LATENCY, WINRM_LATENCY)
    started = time.monotonic()
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(playbook),
                          "-e", json.dumps({"volumes": VOLUMES, "stamp": str(int(time.time()))})],
                         env=ansible_env(tmp, REQUESTS_CA_BUNDLE=lab.endpoints["ca_path"]), capture_output=True, text=True, timeout=1200)
    seconds = time.monotonic() - started
    latency(lab, 0, 0)
    if run.returncode != 0:
        raise RuntimeError(run.stdout[-3000:] + run.stderr[-2000:])
    return seconds / len(VOLUMES), (requests_served(lab, "cluster-a") - before) / len(VOLUMES)


def requests_served(lab, cluster):
    return sum(call["count"] for call in lab.control("GET", "/ontap-requests")[cluster])


def baseline(target, vms, volumes, ontap_task, requests_per_task):
    """The runbook's playbook for `vms` VMs on `volumes` volumes (one LUN each), estimated from its task counts."""
    windows_task = max(ontap_task - requests_per_task * ONTAP_LATENCY, 0.0) + WINRM_MESSAGES_PER_WINDOWS_TASK * WINRM_LATENCY
    ontap_tasks = 3 * volumes + volumes + 3  # quiesce, break, SnapRestore per volume; map per LUN; SnapInfo break, restore, map
    windows_tasks = volumes + 3 + 2 * vms + (vms if target == "cluster" else 0)  # connects; SnapInfo connect, host, list; VMs
    return {"ontap_tasks": ontap_tasks, "windows_tasks": windows_tasks, "seconds": round(ontap_tasks * ontap_task + windows_tasks * windows_task, 1),
            "ontap_task_seconds": round(ontap_task, 3), "ontap_requests_per_task": requests_per_task, "windows_task_seconds": round(windows_task, 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dr", choices=["cluster", "standalone", "both"], default="both", help="the DR target (default both)")
    parser.add_argument("--jobs", choices=["instant", "realistic", "both"], default="both", help="ONTAP job durations (default both)")
    parser.add_argument("--no-baseline", action="store_true", help="skip measuring an na_ontap task for the runbook estimate")
    parser.add_argument("--case", action="append", metavar="VMS:VOLUMES", help="run this case instead of %s (repeatable)"
                        % " ".join("%d:%d" % case for case in CASES))
    options = parser.parse_args(argv)
    cases = [tuple(int(part) for part in case.split(":")) for case in options.case] if options.case else CASES
    targets = ["cluster", "standalone"] if options.dr == "both" else [options.dr]
    profiles = ["instant", "realistic"] if options.jobs == "both" else [options.jobs]
    tmp = Path(tempfile.mkdtemp(prefix="smhv-bench-dr-"))
    runs, measured = [], None
    with ClientRecorder() as recorder, running_lab(tmp / "state", TOPOLOGY) as lab:
        site = LabSite(lab)
        if not options.no_baseline:
            measured = ontap_task_seconds(lab, tmp)
        for target in targets:
            for jobs in profiles:
                for count, volumes in cases if jobs == "instant" else cases[:1]:
                    runs.append(failover(site, lab, recorder, target, case_vms(count, volumes), volumes, jobs))
                    print("failover: %s" % json.dumps(runs[-1]), flush=True)
    report = {"latency": {"ontap_s": ONTAP_LATENCY, "winrm_s": WINRM_LATENCY}, "runs": runs}
    if measured:
        report["baseline_runbook_playbook"] = [dict(baseline(run["dr"], run["vms"], run["volumes"], *measured), dr=run["dr"], vms=run["vms"],
                                                    volumes=run["volumes"]) for run in runs if run["jobs"] == profiles[0]]
    main_runs = [run for run in runs if run["vms"] == 100 and run["jobs"] == "instant"]
    report["targets_met"] = {"%s: orchestration<=15s" % run["dr"]: run["wall_seconds"] <= 15.0 for run in main_runs}
    report["targets_met"].update({"%s: no request to site A" % run["dr"]: run["requests_to_site_a"] == 0 for run in main_runs})
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
