"""Hyper-V checkpoints take time in the simulator: each checkpoint and each merge spends its duration, one VM
after another as the agent's loop does, outside the world's lock and in one of the host's slots; the durations
come from a profile, per-operation settings, the topology or the control API (docs/lab.md, "Hyper-V timing")."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import requests

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


def test_each_checkpoint_and_merge_takes_its_time_one_vm_after_another(call, world, add_vm):
    add_vm("vm2", VM2_ID, "J:\\vm2")
    timing.configure(world.hosts[HOST], durations={"checkpoint.create": SECONDS, "checkpoint.remove": SECONDS / 2})
    answer, elapsed = timed(call, "backup_checkpoint", {"ids": [VM1_ID, VM2_ID], "name": "ds_x"})
    assert len(answer["result"]["checkpoints"]) == 2
    assert 2 * SECONDS <= elapsed < 2 * SECONDS + 1.0
    answer, elapsed = timed(call, "checkpoint_remove", {"ids": [VM1_ID, VM2_ID], "name": "ds_x"})
    assert len(answer["result"]["removed"]) == 2 and SECONDS <= elapsed < SECONDS + 1.0
    assert all(vm.checkpoints == [] for vm in world.hosts[HOST].vms.values())
    # Check mode plans without spending the time.
    started = time.monotonic()
    assert call("checkpoint_create", {"ids": [VM1_ID, VM2_ID], "name": "ds_y"}, check_mode=True)["changed"]
    assert time.monotonic() - started < SECONDS


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
