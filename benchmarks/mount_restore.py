"""smhv_mount and smhv_restore timings on the lab's default topology (standalone host hv03).

    PYTHONPATH=.cache/collections:tests .venv/bin/python benchmarks/mount_restore.py [--runs N]

Takes a checkpoint-method backup of vm-file01 (on LUN J:, shared with vm-file02) and vm-print01 (alone on
LUN K:), then runs, through the modules' code (smhv_mount.run / smhv_restore.run: everything but
AnsibleModule, so the WinRM session open and the registration check count):

- mount of one VM's LUN (J:) and unmount, then mount of the whole backup (J: and K:) and unmount, N times each;
- restore of vm-print01 (LUN-level) and of vm-file01 (file copy from a clone), N times each.

Each is measured three times: as the lab answers (loopback, no latency), with 20 ms per ONTAP request and
50 ms per WinRM message (as benchmarks/backup_scale.py), both with ONTAP jobs done at once, and with that latency
and the lab's realistic ONTAP job durations (docs/lab.md, "Job timing"), which is closest to a site. Printed per
operation: the median wall time, the engine's own `timings.total`, WinRM messages (HostClient
stats.round_trips) and ONTAP requests (StorageClient.call_counts) of one run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / ".cache" / "collections")]

from e2e.backup_support import LabSite  # noqa: E402
from lab_fixture import running_lab  # noqa: E402

from client_counters import ClientRecorder  # noqa: E402
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_mount, smhv_restore  # noqa: E402

SNAPINFO = "S:\\SnapInfo"
LATENCIES = (("no latency", 0.0, 0.0, "instant"), ("ONTAP 20 ms, WinRM 50 ms", 0.020, 0.050, "instant"),
             ("same, realistic ONTAP jobs", 0.020, 0.050, "realistic"))


def measure(recorder, runs, operation):
    """Median wall time, median engine total, and the counters of the last run."""
    walls, totals = [], []
    for _ in range(runs):
        recorder.totals()
        started = time.monotonic()
        result = operation()
        walls.append(time.monotonic() - started)
        totals.append(result["timings"]["total"])
        assert result["changed"], result
    trips, calls = recorder.totals()
    return statistics.median(walls), statistics.median(totals), trips, calls


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args(argv).runs
    with tempfile.TemporaryDirectory(prefix="smhv-bench-") as tmp, running_lab(Path(tmp) / "state") as lab:
        site = LabSite(lab)
        site.register("hv03", SNAPINFO)
        site.dataset("hv03", SNAPINFO, "bench", ["vm-file01", "vm-print01"])
        backup = site.backup("hv03", "bench", backup_method="checkpoint")["backup"]["name"]
        common = dict(site.common, hyperv_host="hv03")
        mount = dict(common, backup=backup, vm=None, state="mounted", mount_root="C:\\SMHV\\Mounts", access="folder",
                     drive_letters=None)
        restore = dict(common, backup=backup, force=False, start=True, target_host=None, path_map=None, post_script=None,
                       verify_snapshot=True)
        recorder = ClientRecorder()
        print("%-44s %-26s %9s %9s %6s %6s" % ("operation", "latency", "wall (s)", "engine (s)", "WinRM", "ONTAP"))
        for label, ontap_seconds, winrm_seconds, jobs in LATENCIES:
            lab.control("POST", "/ontap-jobs", {"profile": jobs})
            lab.control("POST", "/latency", {"target": "ontap", "seconds": ontap_seconds})
            lab.control("POST", "/latency", {"target": "winrm", "seconds": winrm_seconds})
            rows = []
            for what, params in (("one VM's LUN", dict(mount, vm="vm-file01")), ("the whole backup (2 LUNs)", mount)):
                mounted, unmounted = [], []
                for _ in range(runs):  # mount and unmount alternate, so each is measured on its real starting state
                    mounted.append(measure(recorder, 1, lambda p=params: smhv_mount.run(p, False)))
                    unmounted.append(measure(recorder, 1, lambda p=params: smhv_mount.run(dict(p, state="unmounted"), False)))
                rows.append(("mount " + what, median_row(mounted)))
                rows.append(("unmount " + what, median_row(unmounted)))
            rows.append(("restore vm-print01 (LUN-level)", measure(recorder, runs, lambda: smhv_restore.run(dict(restore, vm="vm-print01"), False))))
            rows.append(("restore vm-file01 (file copy)", measure(recorder, runs, lambda: smhv_restore.run(dict(restore, vm="vm-file01"), False))))
            for what, (wall, total, trips, calls) in rows:
                print("%-44s %-26s %9.3f %9.3f %6d %6d" % (what, label, wall, total, trips, calls), flush=True)
        lab.control("DELETE", "/faults")
    print("median of %d runs each; WinRM messages and ONTAP requests of one run" % runs)
    return 0


def median_row(samples):
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples), samples[-1][2], samples[-1][3])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
