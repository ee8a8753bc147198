"""The checkpoint window a user will see: a checkpoint-method backup with the lab's realistic Hyper-V timing
(hyperv/timing.py: 5 s per production checkpoint, 3 s per merge, 4 at once per host, estimates) and ONTAP job
timing.

    PYTHONPATH=.cache/collections:tests .venv/bin/python benchmarks/checkpoint_window.py [--topology default|bench]

default: the hvclus01 cluster's six running VMs (three on each node); bench: bench.yml's 200 VMs on 8 nodes, with
the backup_scale benchmark's latency (20 ms per ONTAP request, 50 ms per WinRM message). One backup each (the
machine is shared; one run, not a best of several). Reported: the backup's steps, how long each node's checkpoint
call and merge call took, the checkpoint window (from the first checkpoint made to the snapshot's commit: the
steps from `checkpoint` to `snapshot`, less the first checkpoint's own time), how long VMs stayed checkpointed
(the engine's checkpoint_seconds_max), and the floors these are held to (docs/architecture.md, "The checkpoint
window"): the agent makes a node's checkpoints side by side, CHECKPOINT_JOBS at once and Hyper-V at most its
concurrency, so the busiest node needs `turns` = ceil(VMs / min(jobs, concurrency)) checkpoint times and as many
merge times; its checkpoint call's floor is turns x checkpoint, and the longest checkpoint's floor is turns x
(checkpoint + merge) plus the steps measured between the checkpoint and release_checkpoints steps (the snapshot).
Also the agent requests' waits for the lab's world lock and the WinRM messages per host.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / ".cache" / "collections")]

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent  # noqa: E402
from e2e.backup_support import LabSite  # noqa: E402
from lab_fixture import running_lab  # noqa: E402

from client_counters import ClientRecorder  # noqa: E402

TOPOLOGIES = {
    "default": {"file": None, "scope": "hvclus01", "snapinfo": "S:\\SnapInfo", "latency": (0.0, 0.0),
                "vms": ["vm-web01", "vm-app01", "vm-db01", "vm-web02", "vm-app02", "vm-db02"]},
    "bench": {"file": REPO / "lab" / "smhv_lab" / "topologies" / "bench.yml", "scope": "hvbench", "snapinfo": "S:\\SnapInfo",
              "latency": (0.020, 0.050), "vms": ["vm%03d" % i for i in range(200)]},
}


def measure(name):
    setup = TOPOLOGIES[name]
    tmp = Path(tempfile.mkdtemp(prefix="smhv-cpwindow-"))
    with running_lab(tmp / "state", setup["file"]) as lab:
        site = LabSite(lab)
        site.register(setup["scope"], setup["snapinfo"])
        site.dataset(setup["scope"], setup["snapinfo"], "window", setup["vms"])
        timing = lab.control("POST", "/hyperv-timing", {"profile": "realistic"})
        ontap_seconds, winrm_seconds = setup["latency"]
        lab.control("POST", "/latency", {"target": "ontap", "seconds": ontap_seconds})
        lab.control("POST", "/latency", {"target": "winrm", "seconds": winrm_seconds})
        lab.control("DELETE", "/agent-requests")
        with ClientRecorder() as recorder:
            started = time.monotonic()
            result = site.backup(setup["scope"], "window")
            wall = time.monotonic() - started
            messages = recorder.round_trips()
        requests = lab.control("GET", "/agent-requests")["requests"]
    host_timing = next(iter(timing.values()))
    create, merge = host_timing["durations"]["checkpoint.create"], host_timing["durations"]["checkpoint.remove"]
    concurrency = host_timing["concurrency"]
    steps = [(step["step"], step["seconds"]) for step in result["timings"]["steps"]]
    names = [step for step, _seconds in steps]
    between = steps[names.index("checkpoint"):names.index("snapshot") + 1]
    per_node = {}
    for vm in result["vms"]:
        if vm["outcome"] == "online":
            per_node[vm["host"]] = per_node.get(vm["host"], 0) + 1
    most = max(per_node.values())
    window = sum(seconds for _step, seconds in between) - create
    calls = {op: {r["host"]: r["seconds"] for r in requests if r["op"] == op} for op in ("backup_checkpoint", "checkpoint_remove")}
    waits = [r.get("lock_wait", 0.0) for r in requests]
    turns = math.ceil(most / min(agent.CHECKPOINT_JOBS, concurrency or agent.CHECKPOINT_JOBS))
    held_between = sum(seconds for step, seconds in steps[names.index("checkpoint") + 1:names.index("release_checkpoints")])
    held_floor = turns * (create + merge) + held_between
    checkpointed = result["timings"]["checkpoint_seconds_max"]
    return {"topology": name, "vms_checkpointed": sum(per_node.values()), "vms_per_node": per_node,
            "latency": {"ontap_s": ontap_seconds, "winrm_s": winrm_seconds},
            "hyperv": {"checkpoint.create": create, "checkpoint.remove": merge, "concurrency": concurrency,
                       "agent_jobs": agent.CHECKPOINT_JOBS, "turns_on_busiest_node": turns},
            "wall_seconds": round(wall, 2), "steps": dict(steps),
            "backup_checkpoint_call_seconds": calls["backup_checkpoint"], "checkpoint_remove_call_seconds": calls["checkpoint_remove"],
            "checkpoint_call_floor_seconds": turns * create, "merge_call_floor_seconds": turns * merge,
            "checkpoint_call_vs_floor": round(max(calls["backup_checkpoint"].values()) / (turns * create), 3),
            "checkpoint_window_seconds": round(window, 2),
            "checkpointed_seconds_max": checkpointed, "checkpointed_floor_seconds": round(held_floor, 2),
            "checkpointed_vs_floor": round(checkpointed / held_floor, 3),
            "winrm_messages_per_host": messages,
            "agent_requests": len(requests), "lock_wait_total_seconds": round(sum(waits), 4),
            "lock_wait_max_seconds": round(max(waits, default=0.0), 4)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), action="append", help="default: both")
    options = parser.parse_args(argv)
    for name in options.topology or ["default", "bench"]:
        print(json.dumps(measure(name), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
