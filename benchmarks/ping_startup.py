"""An `smhv_ping` task against `ansible.builtin.ping` as whole ansible-playbook processes (issue 20: <= 1.15x).

    PYTHONPATH=.cache/collections:tests .venv/bin/python benchmarks/ping_startup.py [--runs N] [--collections PATH]

Starts the lab on its default topology (no added latency) and runs three one-task playbooks against localhost,
one after the other N times (default 7), and prints each one's median wall time and its ratio to the builtin
ping: `ansible.builtin.ping`; `smhv_ping` of the standalone host hv03 with the lab's ONTAP clusters (one PSRP
pool to the host, a GET of each cluster); `smhv_ping` of the failover cluster hvclus01 (its two nodes as well).
What smhv_ping adds over the builtin is its imports (ansible's own are shared), its arguments and the probes'
round trips; `python -X importtime` on the module shows the imports alone. The CPU seconds (ansible-playbook and
the module's process, not the lab's) are what a shared machine's load does not change. --collections runs another
checkout of the collection (a path holding ansible_collections/netapp_hyperv/smhv), e.g. for a before/after.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / ".cache" / "collections")]

from lab_fixture import ansible_env, running_lab  # noqa: E402

PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/netapp_hyperv.smhv.smhv:
      storage_systems: "{{ smhv_storage_systems }}"
      winrm: "{{ smhv_winrm }}"
      host_addresses: "{{ smhv_host_addresses }}"
  tasks:
    - %s
"""
TASKS = {
    "ansible.builtin.ping": "ansible.builtin.ping:",
    "smhv_ping standalone hv03": "netapp_hyperv.smhv.smhv_ping: {hyperv_host: hv03}",
    "smhv_ping cluster hvclus01": "netapp_hyperv.smhv.smhv_ping: {hyperv_host: hvclus01}",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each playbook to take the median of (default 7)")
    parser.add_argument("--collections", help="ANSIBLE_COLLECTIONS_PATH to run (default: this checkout's)")
    options = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="smhv-ping-bench-"))
    playbooks = {}
    for label, task in TASKS.items():
        playbooks[label] = tmp / ("%s.yml" % label.replace(" ", "_").replace(".", "_"))
        playbooks[label].write_text(PLAY % task)
    seconds = dict((label, []) for label in TASKS)
    cpu = dict((label, []) for label in TASKS)
    with running_lab(tmp / "state", None) as lab:
        # No PYTHONPATH: Ansible also finds collections on sys.path, which would put this checkout before --collections.
        env = dict(ansible_env(tmp, REQUESTS_CA_BUNDLE=lab.endpoints["ca_path"]), PYTHONPATH="")
        if options.collections:
            env["ANSIBLE_COLLECTIONS_PATH"] = options.collections
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory)]
        for label, playbook in playbooks.items():  # once untimed: byte-compiled caches, the lab's first connections
            run_once(command + [str(playbook)], env)
        for _run in range(options.runs):
            for label, playbook in playbooks.items():  # interleaved, so that a change of load hits all three alike
                wall, used = run_once(command + [str(playbook)], env)
                seconds[label].append(wall)
                cpu[label].append(used)
    builtin, builtin_cpu = statistics.median(seconds["ansible.builtin.ping"]), statistics.median(cpu["ansible.builtin.ping"])
    for label, measured in seconds.items():
        median, used = statistics.median(measured), statistics.median(cpu[label])
        print("%-28s median %.3f s (%.3f-%.3f) over %d runs, %.2fx ansible.builtin.ping; CPU %.3f s, %.2fx"
              % (label, median, min(measured), max(measured), len(measured), median / builtin, used, used / builtin_cpu))
    return 0


def run_once(command, env):
    """(wall seconds, CPU seconds of ansible-playbook and the processes it waited for: the module's) of one run."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    elapsed, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0 or "failed=0" not in run.stdout:
        raise RuntimeError(run.stdout[-3000:] + run.stderr[-2000:])
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    sys.exit(main())
