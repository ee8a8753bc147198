"""`make dr-round-trip`: a disaster and the way back on the embedded lab, for a newcomer to DR (docs/dr.md).

Starts a fresh lab and runs the collection's DR playbooks against it the way a user would: hv03's VMs backed up with
SnapMirror update at site A, site A lost, dr_failover.yml to hvdr01 at site B, new work at B, site A back,
dr_failback.yml (first the failback alone, then again with the reprotect). At each stage it prints every VM's guest
file as the host holding it reads it from its disk, where the VM is registered and how the mirrors stand, and how long
each step took. SMHV_ROUND_TRIP_LATENCY=0.05 delays every ONTAP request and WinRM message by 50 ms (a WAN between the
controller and the sites). Exits non-zero when a step fails or a guest holds anything but the data the stage must show; the lab
is always stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from . import endpoints as endpoints_file
from .cli import main as lab_cli
from .client import LabHandle
from .demo import StepFailed, _ansible_env, run_playbook
from .world.windows import read_vhdx, split_drive

VMS = ("vm-file01", "vm-file02", "vm-print01")
GUEST_FILE = "C:\\data\\ledger.txt"
AT_A, AT_B = "written at site A", "written at site B"
PROTECTION = {"smhv_protection": {"hv03": {
    "snapinfo_path": "S:\\SnapInfo", "report_path": "C:\\SMHV\\Reports", "create_snapinfo": True,
    "datasets": [{"name": "files", "members": [{"vm": vm} for vm in VMS]}]}}}
# hvdr01 has disks at J: and K: of its own: the failed-over LUNs go one letter up.
FAILOVER = {"smhv_source_scope": "hv03", "smhv_dr_host": "hvdr01", "smhv_snapinfo_path": "S:\\SnapInfo",
            "smhv_path_map": {"J:\\": "K:\\", "K:\\": "L:\\"},
            "smhv_luns": [{"lun": "/vol/vol_hv03_dr/lun_j", "access_path": "J:\\"},
                          {"lun": "/vol/vol_hv03_dr/lun_k", "access_path": "K:\\"}]}
FAILBACK = {"smhv_primary_host": "hv03", "smhv_dr_host": "hvdr01", "smhv_snapinfo_path": "S:\\SnapInfo"}
ROUND_TRIP_MIRRORS = ("svm_dr:vol_hv03_dr", "svm_dr:vol_snapinfo_dr")


def guest_file(lab, host: str, vm: str) -> tuple[str, str | None]:
    """(state, data) of `vm` on `host`: its guest file as the host reads it from the VM's first virtual disk (the same VM
    may be registered at both sites after a failback, so the lab's guest-data call could read either)."""
    found = next((item for item in lab.state()["hosts"][host]["vms"] if item["name"] == vm), None)
    if found is None:
        return "not registered", None
    folder, _sep, name = found["vhd_paths"][0].rpartition("\\")
    files = lab.control("GET", f"/host-files?host={host}&path={quote(folder)}")["files"]
    guest_files = read_vhdx(files[name].encode())["guest_files"]
    inner = split_drive(GUEST_FILE)[1].lower()
    record = next((record for path, record in guest_files.items() if path.lower() == inner), None)
    return found["state"], record["data"] if record else None


def show_guests(lab, expected: dict[str, str | None]) -> None:
    """Print each VM at both sites; fail when a host that should hold a VM's data (expected {host: words}) does not."""
    for vm in VMS:
        seen = {}
        for host in ("hv03", "hvdr01"):
            state, data = guest_file(lab, host, vm)
            seen[host] = data
            told = f"{state}, {GUEST_FILE} reads '{data}'" if data is not None else state
            print(f"   {vm:<10} on {host:<6}: {told}")
        for host, words in expected.items():
            if words is not None and seen[host] != f"{vm}: {words}":
                raise StepFailed(f"{vm} on {host} holds {seen[host]!r}, not '{vm}: {words}'")


def role_task(tasks: dict[str, list[dict]], name: str) -> dict:
    """The result of a role's task, which the JSON callback names '<role> : <task>'."""
    (found,) = [results[0] for task, results in tasks.items() if task.split(" : ")[-1] == name]
    return found


def show_mirrors(lab) -> None:
    state = lab.state()["ontap"]
    for cluster in ("cluster-b", "cluster-a"):
        for mirror in state[cluster]["snapmirrors"]:
            if mirror["destination"] in ROUND_TRIP_MIRRORS or mirror["source"] in ROUND_TRIP_MIRRORS:
                print(f"   SnapMirror {mirror['source']} -> {mirror['destination']} (on {cluster}): {mirror['state']}")


class RoundTrip:
    def __init__(self, inventory: Path, env: dict[str, str], lab) -> None:
        self.inventory, self.env, self.lab = inventory, env, lab
        self.work = Path(env["ANSIBLE_LOCAL_TEMP"]).parent
        cluster_b = lab.endpoints["ontap"]["cluster-b"]
        self.dr_storage = {"smhv_dr_storage_systems": [f"{cluster_b['host']}:{cluster_b['port']}"]}
        self.latency = float(os.environ.get("SMHV_ROUND_TRIP_LATENCY") or 0)
        self.set_latency()

    def set_latency(self) -> None:
        """The lab's latency per request (DELETE /faults clears it with the fault rules)."""
        for target in ("ontap", "winrm"):
            self.lab.control("POST", "/latency", {"target": target, "seconds": self.latency})

    def playbook(self, name: str, variables: dict, *options: str) -> dict[str, list[dict]]:
        extra = self.work / f"{name}.json"
        extra.write_text(json.dumps(variables))
        return run_playbook(name, self.inventory, self.env, "-e", f"@{extra}", *options)

    def protect(self) -> None:
        print("\n1. hv03 at site A: register it and define dataset files (playbooks/configure_protection.yml)")
        self.playbook("configure_protection.yml", dict(PROTECTION, smhv_scopes="hv03"))
        for vm in VMS:
            self.lab.control("POST", "/guest-data", {"vm": vm, "path": GUEST_FILE, "data": f"{vm}: {AT_A}"})
        result = self.playbook("backup_now.yml", {"smhv_scope": "hv03", "smhv_dataset": "files", "smhv_update_snapmirror": True})
        backup = result["Back up the dataset"][0]
        print(f"   each VM writes '<vm>: {AT_A}'; backup {backup['backup']['name']} replicated to "
              f"{', '.join(r['destination'] for r in backup['replication'])} (playbooks/backup_now.yml)")
        show_guests(self.lab, {"hv03": AT_A})
        show_mirrors(self.lab)

    def lose_site_a(self) -> None:
        print("\n2. Site A is lost: hv03's VMs are gone and its ONTAP cluster and hosts answer nothing")
        for vm in VMS:
            self.lab.control("DELETE", f"/vm?vm={vm}")
        down = self.lab.control("POST", "/site", {"site": "a", "state": "down"})
        print(f"   down: {', '.join(down['clusters'] + down['hosts'])}")

    def fail_over(self) -> None:
        print("\n3. Fail over to hvdr01 at site B (playbooks/dr_failover.yml -e smhv_confirm=true)")
        tasks = self.playbook("dr_failover.yml", dict(FAILOVER, smhv_confirm=True, **self.dr_storage))
        result = tasks["Fail over"][0]
        print(f"   recovery point {', '.join(p['backup'] for p in result['recovery_points'])}, RPO {result['rpo_seconds']} s, "
              f"RTO {result['rto']['total']} s")
        show_guests(self.lab, {"hvdr01": AT_A})
        show_mirrors(self.lab)

    def work_at_b(self) -> None:
        print("\n4. The VMs work at site B while site A is down")
        for vm in VMS:
            self.lab.control("POST", "/guest-data", {"vm": vm, "path": GUEST_FILE, "data": f"{vm}: {AT_B}"})
        show_guests(self.lab, {"hvdr01": AT_B})

    def site_a_back(self) -> None:
        print("\n5. Site A is back (its LUNs still at J: and K: on hv03, its volumes as they were when it was lost)")
        self.lab.control("POST", "/site", {"site": "a", "state": "up"})
        self.lab.control("DELETE", "/faults")
        self.set_latency()

    def plan_failback(self) -> None:
        print("\n6. What the failback would do (playbooks/dr_failback.yml --check -e smhv_confirm=true: nothing changes)")
        before = self.lab.state()
        checked = self.playbook("dr_failback.yml", dict(FAILBACK, smhv_confirm=True, **self.dr_storage), "--check")
        for line in role_task(checked, "Say what the failback would do (check mode, nothing was changed)")["msg"]:
            print(f"   {line}")
        if self.lab.state() != before:
            raise StepFailed("dr_failback.yml --check changed the lab")
        print("   (the lab's state is the same as before the check)")
        self.planned = role_task(checked, "Fail back")["actions"]

    def fail_back(self) -> None:
        print("\n7. Fail back to hv03 (playbooks/dr_failback.yml -e smhv_confirm=true -e smhv_reprotect=false)")
        tasks = self.playbook("dr_failback.yml", dict(FAILBACK, smhv_confirm=True, smhv_reprotect=False, **self.dr_storage))
        result = role_task(tasks, "Fail back")
        if result["actions"] != self.planned:
            raise StepFailed(f"the failback did {result['actions']}, its check mode said {self.planned}")
        moved = role_task(tasks, "Report what moved where, and the RPO and RTO")["msg"]
        print(f"   {'; '.join(moved['vms_from_dr_host_to_primary'])} (from hvdr01 to hv03)")
        print(f"   data: {'; '.join(moved['data_from_dr_volume_to_primary_volume'])}")
        print(f"   recovery point {', '.join(p['backup'] for p in result['recovery_points'])} (the final backup at site B), "
              f"RPO {result['rpo_seconds']} s, RTO {result['rto']['total']} s")
        show_guests(self.lab, {"hv03": AT_B})
        show_mirrors(self.lab)

    def reprotect(self) -> None:
        print("\n8. Reprotect: clean site B and mirror site A to site B again (playbooks/dr_failback.yml -e smhv_confirm=true)")
        tasks = self.playbook("dr_failback.yml", dict(FAILBACK, smhv_confirm=True, **self.dr_storage))
        result = role_task(tasks, "Reprotect (clean the DR site, mirror primary -> DR again)")
        removed, names = result["removed"], {vm["id"]: vm["name"] for vm in result["plan"]["clean"]["vms"]}
        print(f"   removed from hvdr01: VMs {', '.join(names[vm] for vm in removed['vms']) or 'none'}; "
              f"disks {', '.join(removed['disks']) or 'none'}; maps {', '.join(removed['maps']) or 'none'}")
        reached = [volume["dr_volume"] for volume in result["proof"]["volumes"] if volume["backups"]]
        print(f"   backup {', '.join(result['proof']['backups'])} taken at hv03 with SnapMirror update reached {', '.join(reached) or 'nothing'}")
        show_guests(self.lab, {"hv03": AT_B})
        show_mirrors(self.lab)
        state = self.lab.state()
        left = [vm["name"] for vm in state["hosts"]["hvdr01"]["vms"] if vm["name"] in VMS]
        mirrors = {m["destination"]: m["state"] for m in state["ontap"]["cluster-b"]["snapmirrors"]}
        if left or not reached or any(mirrors.get(name) != "snapmirrored" for name in ROUND_TRIP_MIRRORS):
            raise StepFailed(f"after the reprotect hvdr01 still has {left}, mirrors {mirrors}, the proving backup reached {reached}")


def traffic(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What a step sent, from the lab's request counters before and after it (DELETE /faults, which bringing site A back
    calls, zeroes them)."""
    if any(after[target] < before[target] for target in before):
        return dict(after)
    return {target: after[target] - before[target] for target in before}


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="smhv-dr-round-trip-"))
    state_dir = work / "lab"
    print("netapp_hyperv.smhv: a DR round trip on the embedded lab (docs/dr.md)")
    print(f"\nStarting the lab (smhv-lab up --state-dir {state_dir})")
    if lab_cli(["up", "--state-dir", str(state_dir)]) != 0:
        return 1
    started = time.monotonic()
    try:
        trip = RoundTrip(state_dir / endpoints_file.INVENTORY_FILE, _ansible_env(work), LabHandle(state_dir))
        if trip.latency:
            print(f"\nEvery ONTAP request and WinRM message waits {trip.latency * 1000:.0f} ms (SMHV_ROUND_TRIP_LATENCY)")
        for step in (trip.protect, trip.lose_site_a, trip.fail_over, trip.work_at_b, trip.site_a_back, trip.plan_failback,
                     trip.fail_back, trip.reprotect):
            begun, before = time.monotonic(), trip.lab.control("GET", "/status")["counters"]
            step()
            sent = traffic(before, trip.lab.control("GET", "/status")["counters"])
            print(f"   ({time.monotonic() - begun:.1f} s; {sent['ontap']} ONTAP requests, {sent['winrm']} WinRM messages, "
                  f"{sent['agent']} agent calls)")
    except StepFailed as error:
        print(f"\nFAILED: {error}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping the lab")
        lab_cli(["down", "--state-dir", str(state_dir)])
        if os.environ.get("SMHV_DEMO_KEEP"):
            print(f"kept {work} (SMHV_DEMO_KEEP)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nRound trip finished in {time.monotonic() - started:.1f} s: every VM is back at site A with what it wrote at site B, "
          "and site A is mirrored to site B again.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
