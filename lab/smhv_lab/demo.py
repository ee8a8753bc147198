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

from . import endpoints as endpoints_file
from .cli import main as lab_cli

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
    """Run playbooks/<name>; return {task name: [per-host results]} from the JSON callback."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOKS / name), *extra]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise StepFailed(f"{name} did not run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}") from None
    tasks: dict[str, list[dict]] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            tasks[task["task"]["name"]] = [dict(result, host=host) for host, result in task["hosts"].items()]
    failures = [(t, r) for t, results in tasks.items() for r in results if r.get("failed")]
    if run.returncode != 0 or failures:
        detail = "; ".join(f"{t} on {r['host']}: {r.get('msg')}" for t, r in failures) or run.stderr[-2000:]
        raise StepFailed(f"{name} failed: {detail}")
    return tasks


def step_connectivity(inventory: Path, env: dict[str, str]) -> None:
    print("\n1. Check that the controller reaches both sites (playbooks/check_connectivity.yml)")
    tasks = run_playbook("check_connectivity.yml", inventory, env)
    for result in sorted(tasks["Reach the scope, its nodes and the storage"], key=lambda r: r["host"]):
        hyperv = result["hyperv"]
        nodes = ", ".join(f"{n['computer_name']} ({n['os'].replace('Microsoft Windows ', '')}, build {n['build']}, "
                          f"{n['protocol']})" for n in hyperv["nodes"])
        print(f"   {hyperv['kind']:<10} {result['host']:<9} answered through {nodes}")
    storage = tasks["Reach the scope, its nodes and the storage"][0]["storage"]
    print("   ONTAP      " + "; ".join(f"{s['cluster']} {s['version']} at {s['hostname']}:{s['port']}" for s in storage))


STEPS = [step_connectivity]


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
        for step in STEPS:
            step(inventory, env)
    except StepFailed as error:
        print(f"\nFAILED: {error}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping the lab")
        lab_cli(["down", "--state-dir", str(state_dir)])
        shutil.rmtree(work, ignore_errors=True)
    print("\nDemo finished: every step succeeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
