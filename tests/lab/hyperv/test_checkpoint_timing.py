"""Hyper-V checkpoints take time in the simulator: each checkpoint and each merge is one of the agent's Hyper-V
jobs (agent/checkpoint_jobs.ps1), at most CHECKPOINT_JOBS side by side and one at a time per VM, each spending its
duration outside the world's lock and in one of the host's slots (a host that runs fewer at once queues the rest);
one VM's failure stays that VM's. The durations come from a profile, per-operation settings, the topology or the
control API (docs/lab.md, "Hyper-V timing")."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import requests

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from smhv_lab.control import ControlServer
from smhv_lab.hyperv import timing
from smhv_lab.topology import build_world, load_topology
from smhv_lab.world.windows import WindowsHost

HOST = "hv1"
VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"
VM2_ID = "1f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"
SECONDS = 0.3


def timed(call, op, args):
    started = time.monotonic()
    answer = call(op, args)
    assert answer["ok"], answer
    return answer, time.monotonic() - started


def in_thread(target):
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_the_fidelity_suites_are_instant_by_default(call, world):
    assert timing.timing(world.hosts[HOST])["profile"] == "instant"
    answer, elapsed = timed(call, "backup_checkpoint", {"ids": [VM1_ID], "name": "ds_x"})
    assert len(answer["result"]["checkpoints"]) == 1 and elapsed < SECONDS


def test_a_hosts_checkpoints_and_merges_run_side_by_side(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2")
    timing.configure(world.hosts[HOST], durations={"checkpoint.create": SECONDS, "checkpoint.remove": SECONDS / 2})
    answer, elapsed = timed(call, "backup_checkpoint", {"ids": [VM1_ID, VM2_ID], "name": "ds_x"})
    assert [c["vm_id"] for c in answer["result"]["checkpoints"]] == [VM1_ID, VM2_ID]  # the VMs' order, whoever ends first
    assert SECONDS <= elapsed < 2 * SECONDS
    answer, elapsed = timed(call, "checkpoint_remove", {"ids": [VM1_ID, VM2_ID], "name": "ds_x"})
    assert len(answer["result"]["removed"]) == 2 and SECONDS / 2 <= elapsed < SECONDS
    assert all(vm.checkpoints == [] for vm in world.hosts[HOST].vms.values())
    # Check mode plans without spending the time.
    started = time.monotonic()
    assert call("checkpoint_create", {"ids": [VM1_ID, VM2_ID], "name": "ds_y"}, check_mode=True)["changed"]
    assert time.monotonic() - started < SECONDS


def test_the_agent_runs_checkpoint_jobs_at_once_and_the_host_queues_beyond_its_concurrency(call, world, add_vm):
    ids = [VM1_ID] + ["%d%s" % (number, VM1_ID[1:]) for number in range(2, agent.CHECKPOINT_JOBS + 2)]
    for number, vm_id in enumerate(ids[1:], 2):
        add_vm(f"vm{number}", vm_id, f"J:\\vm{number}")
    host = world.hosts[HOST]
    # One VM more than the agent's jobs: a host without a limit still makes them in two turns.
    timing.configure(host, durations={"checkpoint.create": SECONDS}, concurrency=0)
    answer, elapsed = timed(call, "checkpoint_create", {"ids": ids, "name": "turns"})
    assert len(answer["result"]["checkpoints"]) == len(ids) and 2 * SECONDS <= elapsed < 3 * SECONDS
    # A host that runs one at a time queues the agent's jobs behind each other.
    timing.configure(host, durations={"checkpoint.create": SECONDS}, concurrency=1)
    answer, elapsed = timed(call, "checkpoint_create", {"ids": ids[:2], "name": "queued"})
    assert len(answer["result"]["checkpoints"]) == 2 and 2 * SECONDS <= elapsed < 3 * SECONDS


def test_a_vms_failed_checkpoint_is_its_own_and_merges_of_one_vm_wait_for_each_other(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2", integration_services={"Backup (volume shadow copy)": False})
    timing.configure(world.hosts[HOST], durations={"checkpoint.create": SECONDS, "checkpoint.remove": SECONDS})
    answer, elapsed = timed(call, "checkpoint_create", {"ids": [VM2_ID, VM1_ID, "9" + VM1_ID[1:]], "name": "twice"})
    assert [c["vm_id"] for c in answer["result"]["checkpoints"]] == [VM1_ID]
    failures = [(f["vm_id"], f["code"]) for f in answer["result"]["failures"]]
    assert failures == [("9" + VM1_ID[1:], "VM_NOT_FOUND"), (VM2_ID, "CHECKPOINT_FAILED")]
    assert "production checkpoint" in answer["result"]["failures"][1]["message"] and elapsed < 2 * SECONDS
    assert call("checkpoint_create", {"ids": [VM1_ID], "name": "twice"})["ok"]  # vm1 now has two called "twice"
    answer, elapsed = timed(call, "checkpoint_remove", {"ids": [VM1_ID, VM2_ID], "name": "twice"})
    assert [r["vm_id"] for r in answer["result"]["removed"]] == [VM1_ID, VM1_ID] and answer["result"]["missing"] == [VM2_ID]
    assert 2 * SECONDS <= elapsed < 3 * SECONDS  # Hyper-V merges one checkpoint of a VM at a time
    assert world.hosts[HOST].vms[VM1_ID].checkpoints == []


def test_the_world_is_free_while_a_checkpoint_is_made_and_the_change_lands_at_its_end(call, world):
    timing.configure(world.hosts[HOST], durations={"checkpoint": 4 * SECONDS})
    answers = []
    worker = in_thread(lambda: answers.append(call("checkpoint_create", {"ids": [VM1_ID], "name": "ds_x"})))
    time.sleep(SECONDS)
    answer, elapsed = timed(call, "checkpoint_list", {"prefix": "ds_"})
    assert elapsed < SECONDS and answer["result"]["checkpoints"] == []  # not yet made, and not waiting for it
    worker.join(10)
    assert answers[0]["ok"] and len(answers[0]["result"]["checkpoints"]) == 1
    assert [c["name"] for c in call("checkpoint_list", {"prefix": "ds_"})["result"]["checkpoints"]] == ["ds_x"]


def test_a_host_runs_at_most_its_concurrency_at_once(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2")
    host = world.hosts[HOST]

    def both_at_once():
        started = time.monotonic()
        workers = [in_thread(lambda vm_id=vm_id: call("checkpoint_create", {"ids": [vm_id], "name": f"c{concurrency}"}))
                   for vm_id in (VM1_ID, VM2_ID)]
        for worker in workers:
            worker.join(10)
        return time.monotonic() - started

    for concurrency, least, most in ((1, 2 * SECONDS, 3 * SECONDS), (2, SECONDS, 2 * SECONDS)):
        timing.configure(host, durations={"checkpoint.create": SECONDS}, concurrency=concurrency)
        elapsed = both_at_once()
        assert least <= elapsed < most, (concurrency, elapsed)
        assert all(len(vm.checkpoints) == concurrency for vm in host.vms.values())


def test_profiles_topology_and_control_api(world):
    fresh = WindowsHost(name="fresh")
    assert timing.timing(fresh) == {"profile": "instant", "overrides": {}, "concurrency": 0,
                                    "durations": {"*": 0.0, "checkpoint.create": 0.0, "checkpoint.remove": 0.0}}
    timing.configure(fresh, profile="realistic")
    assert (timing.duration(fresh, "checkpoint.create"), timing.duration(fresh, "checkpoint.remove")) == (5.0, 3.0)
    assert timing.concurrency(fresh) == 4
    timing.configure(fresh, durations={"checkpoint": 1.5}, concurrency=2)
    assert timing.duration(fresh, "checkpoint.remove") == 1.5 and timing.concurrency(fresh) == 2
    timing.configure(fresh, profile="instant")  # a new profile drops the host's own settings
    assert timing.timing(fresh)["overrides"] == {} and timing.concurrency(fresh) == 0

    spec = load_topology()
    spec["hyperv_timing"] = {"profile": "realistic"}
    spec["hosts"][0]["timing"] = {"durations": {"checkpoint.create": 2.5}, "concurrency": 1}
    built = build_world(spec)
    first, second = (built.hosts[item["name"]] for item in spec["hosts"][:2])
    assert timing.duration(first, "checkpoint.create") == 2.5 and timing.concurrency(first) == 1
    assert timing.duration(second, "checkpoint.create") == 5.0 and timing.concurrency(second) == 4
    assert timing.duration(build_world(load_topology()).hosts[first.name], "checkpoint.create") == 0.0

    control = ControlServer(SimpleNamespace(world=world))
    control.start()
    try:
        body = {"host": HOST, "profile": "realistic", "durations": {"checkpoint.remove": 0.3}, "concurrency": 1}
        answer = requests.post(control.url + "/hyperv-timing", json=body, timeout=5)
        assert answer.status_code == 200
        assert answer.json()[HOST]["durations"]["checkpoint.remove"] == 0.3 and answer.json()[HOST]["concurrency"] == 1
        listed = requests.get(control.url + "/hyperv-timing", timeout=5).json()
        assert listed[HOST]["durations"]["checkpoint.create"] == 5.0 and listed[HOST]["profile"] == "realistic"
        for refused in ({"profile": "slowest"}, {"host": "nohost"}, {"durations": {"checkpoint": -1}}):
            assert requests.post(control.url + "/hyperv-timing", json=refused, timeout=5).status_code == 400
    finally:
        control.stop()
