"""`make demo`: the main job on the embedded lab, told as a short story.

Starts a fresh lab, runs the collection's playbooks against it the way a user would (ansible-playbook
with the inventory the lab writes), prints what happened in plain sentences, and always stops the
lab. Exits non-zero if any step fails. Each issue that adds a user-facing job adds its step here.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from . import endpoints as endpoints_file
from .cli import main as lab_cli
from .client import LabHandle
from .world.windows import read_vhdx, split_drive

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO_ROOT / "playbooks"


class StepFailed(Exception):
    pass


def _ansible_env(work: Path) -> dict[str, str]:
    link = work / "collections" / "ansible_collections" / "netapp_hyperv" / "smhv"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(REPO_ROOT)
    env = dict(os.environ)
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(work / "collections"), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                "ANSIBLE_LOCAL_TEMP": str(work / "tmp"), "ANSIBLE_NOCOLOR": "1"})
    return env


def run_playbook(name: str, inventory: Path, env: dict[str, str], *extra: str) -> dict[str, list[dict]]:
    """Run playbooks/<name>; return {task name: [per-host results]} from the JSON callback, each result with the
    inventory host it ran for as `inventory_host` (a module's own `host` return value stays)."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOKS / name), *extra]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise StepFailed(f"{name} did not run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}") from None
    tasks: dict[str, list[dict]] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            tasks[task["task"]["name"]] = [dict(result, inventory_host=host) for host, result in task["hosts"].items()]
    failures = [(t, r) for t, results in tasks.items() for r in results if r.get("failed")]
    if run.returncode != 0 or failures:
        detail = "; ".join(f"{t} on {r['inventory_host']}: {r.get('msg')}" for t, r in failures) or run.stderr[-2000:]
        raise StepFailed(f"{name} failed: {detail}")
    return tasks


def step_connectivity(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n1. Check that the controller reaches both sites (playbooks/check_connectivity.yml)")
    tasks = run_playbook("check_connectivity.yml", inventory, env)
    for result in sorted(tasks["Reach the scope, its nodes and the storage"], key=lambda r: r["inventory_host"]):
        hyperv = result["hyperv"]
        nodes = ", ".join(f"{n['computer_name']} ({n['os'].replace('Microsoft Windows ', '')}, build {n['build']}, "
                          f"{n['protocol']})" for n in hyperv["nodes"])
        print(f"   {hyperv['kind']:<10} {result['inventory_host']:<9} answered through {nodes}")
    storage = tasks["Reach the scope, its nodes and the storage"][0]["storage"]
    print("   ONTAP      " + "; ".join(f"{s['cluster']} {s['version']} at {s['hostname']}:{s['port']}" for s in storage))


PROTECTION = {"smhv_protection": {
    "hvclus01": {
        "snapinfo_path": "S:\\SnapInfo", "report_path": "C:\\SMHV\\Reports", "create_snapinfo": True,
        "datasets": [{"name": "web", "members": [{"vm": "vm-web01"}, {"vm": "vm-web02"}, {"vm": "vm-app01"}],
                      "policies": [{"name": "hourly", "schedule": {"frequency": "hourly", "minute": 15},
                                    "retention": {"tag": "hourly", "count": 24}, "snapmirror_update": True}]}]},
    "hv03": {
        "snapinfo_path": "S:\\SnapInfo", "report_path": "C:\\SMHV\\Reports", "create_snapinfo": True,
        "datasets": [{"name": "files", "members": [{"vm": "vm-file01"}, {"vm": "vm-file02"}, {"vm": "vm-print01"}],
                      "policies": [{"name": "nightly", "schedule": {"frequency": "daily", "at": "01:30"},
                                    "retention": {"tag": "daily", "count": 14}, "backup_type": "crash"}]}]},
}}
GUEST_FILE = "C:\\data\\orders.db"
GUEST_DATA = "order 1001: paid"
PRINT_DATA = "print queue: 3 jobs"


def step_configure(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n2. Register the scopes and define datasets and policies (playbooks/configure_protection.yml)")
    extra = Path(env["ANSIBLE_LOCAL_TEMP"]).parent / "protection.json"
    extra.write_text(json.dumps(PROTECTION))
    tasks = run_playbook("configure_protection.yml", inventory, env, "-e", f"@{extra}")
    for result in tasks["Register the scope with its SnapInfo and report paths"]:
        if result.get("skipped"):
            continue
        print(f"   {result['inventory_host']:<9} registered, SnapInfo at {result['snapinfo']['snapinfo_path']} on LUN "
              f"{result['snapinfo']['lun']['path']} ({result['snapinfo']['lun']['cluster']})")
    for result in tasks["Define the datasets"]:
        for item in result.get("results", []):
            print(f"   dataset {item['item']['name']:<6} on {result['inventory_host']}: "
                  f"{', '.join(m['vm'] for m in item['item']['members'])}")
    for result in tasks["Define the policies of each dataset"]:
        for item in result.get("results", []):
            policy = item["item"][1]
            print(f"   policy  {item['item'][0]['name']}/{policy['name']}: {policy['schedule']['frequency']}, "
                  f"{policy.get('backup_type', 'application')}-consistent, keep {policy['retention']['count']}")


def _backup(inventory: Path, env: dict[str, str], scope: str, dataset: str, kind: str, *extra: str) -> dict:
    tasks = run_playbook("backup_now.yml", inventory, env, "-e", f"smhv_scope={scope}", "-e", f"smhv_dataset={dataset}",
                         "-e", f"smhv_backup_type={kind}", *extra)
    return tasks["Back up the dataset"][0]


def step_backups(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n3. A guest is writing when the backups run (playbooks/backup_now.yml)")
    for vm in ("vm-web01", "vm-file01"):
        lab.control("POST", "/guest-data", {"vm": vm, "path": GUEST_FILE, "data": GUEST_DATA, "in_flight": True})
    print(f"   vm-web01 and vm-file01 each have '{GUEST_DATA}' in flight to {GUEST_FILE} (not yet on disk)")
    lab.control("POST", "/guest-data", {"vm": "vm-print01", "path": GUEST_FILE, "data": PRINT_DATA})
    print(f"   vm-print01 has '{PRINT_DATA}' on disk in {GUEST_FILE}")
    for scope, dataset, kind, vm in (("hvclus01", "web", "application", "vm-web01"),
                                     ("hv03", "files", "crash", "vm-file01")):
        result = _backup(inventory, env, scope, dataset, kind)
        backup = result["backup"]
        outcomes = ", ".join(f"{v['name']} {v['outcome']}" for v in result["vms"])
        volumes = ", ".join(sorted({s["volume"] for s in result["snapshots"]}))
        print(f"   {backup['name']}: {kind}-consistent by {backup['method']} in {result['timings']['total']:.1f} s;"
              f" {outcomes}; one snapshot on each of {volumes}")
        captured = lab.control("GET", f"/snapshot-guest-data?vm={vm}&path={GUEST_FILE.replace(chr(92), '%5C')}"
                                      f"&snapshot={backup['name']}")
        state = "complete" if captured["complete"] else "torn (half written)"
        print(f"   the snapshot holds {vm}'s {GUEST_FILE} as '{captured['data']}': {state}")


def _registered(lab, name: str) -> dict | None:
    """The VM as the lab's hosts have it registered (id, state, host), or None."""
    for host, facts in lab.state()["hosts"].items():
        for vm in facts["vms"]:
            if vm["name"] == name:
                return dict(vm, host=host)
    return None


def _guest(lab, vm: str) -> dict:
    return lab.control("GET", f"/guest-data?vm={vm}&path={GUEST_FILE.replace(chr(92), '%5C')}")


def step_restore(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n4. A guest's data goes wrong and the VM is restored (playbooks/restore_vm.yml)")
    lab.control("POST", "/guest-data", {"vm": "vm-web01", "path": GUEST_FILE, "data": "order 1001: REFUNDED BY MISTAKE"})
    print(f"   vm-web01 now has '{_guest(lab, 'vm-web01')['data']}' in {GUEST_FILE}")
    tasks = run_playbook("restore_vm.yml", inventory, env, "-e", "smhv_scope=hvclus01", "-e", "smhv_vm=vm-web01")
    result = tasks["Restore the VM"][0]
    how = ", ".join(f"{lun.get('path', lun.get('lun', '?'))} by {lun['method']}" for lun in result["luns"])
    print(f"   restored from {result['backup']} ({how}); vm-web01 is {result['vm']['state']}")
    back = _guest(lab, "vm-web01")
    print(f"   vm-web01's {GUEST_FILE} reads '{back['data']}' again")
    if back["data"] != GUEST_DATA:
        raise StepFailed(f"vm-web01 holds {back['data']!r} after the restore, not {GUEST_DATA!r}")


def step_restore_deleted(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n5. An administrator deletes a VM by mistake, and it is restored (playbooks/restore_vm.yml)")
    before = _registered(lab, "vm-print01")
    lab.control("DELETE", "/vm?vm=vm-print01")  # turned off and Remove-VM: registration and configuration gone, disks stay
    if _registered(lab, "vm-print01") is not None:
        raise StepFailed("vm-print01 is still registered after the lab deleted it")
    print(f"   vm-print01 (id {before['id']}) is turned off and removed from {before['host']}; its disks stay on the LUN")
    tasks = run_playbook("restore_vm.yml", inventory, env, "-e", "smhv_scope=hv03", "-e", "smhv_vm=vm-print01")
    result = tasks["Restore the VM"][0]
    how = ", ".join(f"{lun.get('lun', '?')} by {lun['method']}" for lun in result["luns"])
    print(f"   restored from {result['backup']} ({result['backup_type']}-consistent; {how})")
    after = _registered(lab, "vm-print01")
    if after is None or after["id"] != before["id"] or after["state"] != "Running":
        raise StepFailed(f"vm-print01 after the restore: {after}, expected id {before['id']} and Running")
    back = _guest(lab, "vm-print01")["data"]
    print(f"   vm-print01 is registered on {after['host']} again with the same id, {after['state']}; "
          f"its {GUEST_FILE} reads '{back}'")
    if back != PRINT_DATA:
        raise StepFailed(f"vm-print01 holds {back!r} after the restore, not {PRINT_DATA!r}")


def _clones(lab) -> dict[str, list[str]]:
    """LUN clones that smhv_mount made (path: files on it), and the mount folders still connected."""
    state = lab.state()
    clones = {f"{cluster}:{path}": lun["files"] for cluster, facts in state["ontap"].items()
              for volume in facts["volumes"].values() for path, lun in volume["luns"].items() if "/smhv_mount_" in path}
    folders = [access for facts in state["hosts"].values() for disk in facts["disks"] for access in disk["access_paths"]
               if "\\SMHV\\Mounts\\" in access]
    return {"clones": clones, "folders": folders}


def step_mount(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n6. Mount vm-web01's newest backup, list its files and unmount it (playbooks/mount_backup.yml)")
    tasks = run_playbook("mount_backup.yml", inventory, env, "-e", "smhv_scope=hvclus01", "-e", "smhv_vm=vm-web01")
    mounted = tasks["Mount or unmount the backup"][0]
    for mount in mounted["mounts"]:
        print(f"   {mount['lun']} as of {mount['snapshot']} is clone {mount['clone'].rsplit('/', 1)[1]}, "
              f"connected to {mounted['host']}; vm-web01's files in it:")
    files = tasks["Say where the files are"][0]["msg"][1:]
    for path in files:
        print(f"     {path}")
    clones = _clones(lab)["clones"]
    on_clones = {(mount["access_path"] + name).lower() for mount in mounted["mounts"]
                 for name in clones.get(f"{mount['lun'].split(':')[0]}:{mount['clone']}", [])}
    missing = [path for path in files if path.lower() not in on_clones]
    if not files or missing:
        raise StepFailed(f"the mounted clones do not hold {missing or 'any VM file'}")
    tasks = run_playbook("mount_backup.yml", inventory, env, "-e", "smhv_scope=hvclus01", "-e", "smhv_vm=vm-web01",
                         "-e", f"smhv_backup={mounted['backup']}", "-e", "smhv_state=unmounted")
    left = _clones(lab)
    if left["clones"] or left["folders"]:
        raise StepFailed(f"unmount left {left}")
    print(f"   unmounted: {tasks['Say that it is unmounted'][0]['msg'].split(': ', 1)[1]}; no clone or mount folder is left")


DR_LUNS = [{"lun": "/vol/vol_hv03_dr/lun_j", "access_path": "J:\\"}, {"lun": "/vol/vol_hv03_dr/lun_k", "access_path": "K:\\"}]
DRILL_ROOT = "C:\\SMHV\\Drills"
LATER_PRINT_DATA = "print queue: 7 jobs"


def _drill_vars(work: Path, lab, **more) -> str:
    """The extra-vars file of playbooks/dr_drill.yml for hv03 drilled on hvdr01 at site B (its ONTAP cluster-b only)."""
    cluster_b = lab.endpoints["ontap"]["cluster-b"]
    extra = work / "drill.json"
    extra.write_text(json.dumps(dict({"smhv_source_scope": "hv03", "smhv_dr_host": "hvdr01", "smhv_snapinfo_path": "S:\\SnapInfo",
                                      "smhv_dr_storage_systems": [f"{cluster_b['host']}:{cluster_b['port']}"],
                                      "smhv_luns": DR_LUNS}, **more)))
    return f"@{extra}"


def _drilled_guest_file(lab, vhdx: str) -> dict | None:
    """GUEST_FILE as the drill VM's first virtual disk holds it, read on hvdr01 from the FlexClone LUN it sits on."""
    folder, _sep, name = vhdx.rpartition("\\")
    files = lab.control("GET", f"/host-files?host=hvdr01&path={quote(folder)}")["files"]
    guest_files = read_vhdx(files[name].encode())["guest_files"]
    inner = split_drive(GUEST_FILE)[1]  # a virtual disk keeps a guest file by its path inside the guest's volume
    return next((record for path, record in guest_files.items() if path.lower() == inner.lower()), None)


def _drill_leftovers(lab) -> list[str]:
    """Whatever of a drill the DR site still has: FlexClones, VMs on hvdr01, disks or folders under the drill root."""
    state = lab.state()
    hvdr01 = state["hosts"]["hvdr01"]
    found = [f"FlexClone {name}" for name in state["ontap"]["cluster-b"]["volumes"] if name.startswith("smhv_drill_")]
    found += [f"VM {vm['name']}" for vm in hvdr01["vms"]]
    found += [f"disk at {path}" for disk in hvdr01["disks"] for path in disk["access_paths"] if path.startswith(DRILL_ROOT)]
    found += [f"folder {folder}" for folder in hvdr01["folders"] if folder.startswith(DRILL_ROOT)]
    return found


def step_drill(inventory: Path, env: dict[str, str], lab) -> None:
    print("\n7. Drill hv03's failover at site B while site A runs on (playbooks/dr_drill.yml)")
    result = _backup(inventory, env, "hv03", "files", "application", "-e", "smhv_update_snapmirror=true")
    print(f"   {result['backup']['name']}: application-consistent, replicated to "
          f"{', '.join(r['destination'] for r in result['replication'])} at site B")
    lab.control("POST", "/guest-data", {"vm": "vm-print01", "path": GUEST_FILE, "data": LATER_PRINT_DATA})
    print(f"   then vm-print01 at site A writes '{LATER_PRINT_DATA}' (not replicated: the drill must not show it)")
    work = Path(env["ANSIBLE_LOCAL_TEMP"]).parent
    tasks = run_playbook("dr_drill.yml", inventory, env, "-e", _drill_vars(work, lab, smhv_keep_drill=True))
    drill = tasks["Start the drill"][0]
    point = drill["recovery_points"][0]
    print(f"   recovery point {point['backup']}; FlexClones {', '.join(c['clone'] for c in drill['plan']['clones'])} "
          f"of the mirrors at its snapshot, mapped to hvdr01; the VMs were up and checked in {drill['rto']['total']:.1f} s")
    for vm in drill["vms"]:
        health = vm["health"]
        network = "no network adapter connected" if not health["network_connected"] else f"on {', '.join(health['switches'])}"
        print(f"   {vm['drill_name']:<17} {vm['outcome']}: {health['state']}, heartbeat {health['heartbeat']}, {network}")
    shown = {}
    for vm in drill["vms"]:
        found = _drilled_guest_file(lab, vm["disks"][0])
        shown[vm["name"]] = found["data"] if found else None
        if found:
            print(f"   on hvdr01, {vm['drill_name']}'s {GUEST_FILE} reads '{found['data']}'")
    if not drill["passed"] or shown.get("vm-print01") != PRINT_DATA or shown.get("vm-file01") != GUEST_DATA:
        raise StepFailed(f"the drill passed={drill['passed']} and its VMs hold {shown}, expected '{PRINT_DATA}' and '{GUEST_DATA}'")
    mirrors = {m["destination"]: m["state"] for m in lab.state()["ontap"]["cluster-b"]["snapmirrors"]}
    print(f"   meanwhile the {len(mirrors)} SnapMirror relationships stay {', '.join(sorted(set(mirrors.values())))}; "
          f"vm-print01 at site A still reads '{_guest(lab, 'vm-print01')['data']}'")
    tasks = run_playbook("dr_drill.yml", inventory, env, "-e", _drill_vars(work, lab, smhv_end_drill_only=True))
    removed = tasks["End a kept drill"][0]["removed"]
    left = _drill_leftovers(lab)
    if left or set(mirrors.values()) != {"snapmirrored"}:
        raise StepFailed(f"ending the drill left {left}; mirrors {mirrors}")
    print(f"   drill ended: {len(removed['vms'])} VMs, {len(removed['disks'])} disks and {len(removed['clones'])} FlexClones "
          f"removed; nothing of the drill is left on cluster-b or hvdr01")


STEPS = [step_connectivity, step_configure, step_backups, step_restore, step_restore_deleted, step_mount, step_drill]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="smhv-demo-"))
    state_dir = work / "lab"
    print("netapp_hyperv.smhv demo on the embedded lab")
    print(f"\nStarting the lab (smhv-lab up --state-dir {state_dir})")
    if lab_cli(["up", "--state-dir", str(state_dir)]) != 0:
        return 1
    inventory = state_dir / endpoints_file.INVENTORY_FILE
    try:
        env = _ansible_env(work)
        lab = LabHandle(state_dir)
        for step in STEPS:
            step(inventory, env, lab)
    except StepFailed as error:
        print(f"\nFAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if os.environ.get("SMHV_DEMO_REST_LOG"):  # tests/e2e/test_demo.py checks these against the user guide's role
            try:
                Path(os.environ["SMHV_DEMO_REST_LOG"]).write_text(json.dumps(lab.control("GET", "/ontap-requests"), indent=1))
            except (OSError, NameError) as error:
                print(f"could not write the ONTAP request log: {error}", file=sys.stderr)
        print("\nStopping the lab")
        lab_cli(["down", "--state-dir", str(state_dir)])
        if os.environ.get("SMHV_DEMO_KEEP"):
            print(f"kept {work} (SMHV_DEMO_KEEP)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\nDemo finished: every step succeeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
