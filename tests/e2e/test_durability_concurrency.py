"""Issue 13: 16 backups of overlapping datasets of one scope at once, each its own smhv_backup process, on the lab.

Without lease_wait one holds the scope's lease and the others fail fast with SCOPE_BUSY naming a holder that is one of
the 16 (a run that starts after the holder released may take the lease in turn and succeed); with lease_wait they all
succeed, one after another. Either way: no committed backup lost, no ok record without its snapshots, every name
distinct, and nothing left behind (the oracles of durability_support, read from the lab).
"""
from __future__ import annotations

import re
import time

import pytest

from e2e import durability_support as ds
from e2e.backup_support import DEFAULTS, LabSite
from lab_fixture import running_lab

SCOPE = "hv03"
RUNS = 16
DATASETS = {"ov_a": ["vm-file01", "vm-print01"], "ov_b": ["vm-print01", "vm-sql01"], "ov_c": ["vm-file01", "vm-sql01"],
            "ov_d": ["vm-file01", "vm-file02", "vm-print01", "vm-sql01"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("durability-concurrency") / "state") as handle:
        yield handle


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register(SCOPE, ds.SNAPINFO)
    for name, vms in DATASETS.items():
        site.dataset(SCOPE, ds.SNAPINFO, name, vms)
    for name in DATASETS:  # one committed backup of each, which no run may lose
        assert site.backup(SCOPE, name, backup_type="crash")["backup"]["status"] == "ok"
    return site


def run_all(site, tmp_path, lease_wait):
    datasets = sorted(DATASETS)
    processes = []
    for index in range(RUNS):
        params = dict(DEFAULTS, **site.common, hyperv_host=SCOPE, dataset=datasets[index % len(datasets)],
                      backup_type="crash" if index % 2 else "application", lease_wait=lease_wait)
        processes.append((time.monotonic(), ds.start_module("smhv_backup", params, tmp_path)))
    ended = {}
    while len(ended) < len(processes):  # when each one ends, not when it is read: a fast loser is fast
        for started, process in processes:
            if process.pid not in ended and process.poll() is not None:
                ended[process.pid] = time.monotonic() - started
        time.sleep(0.05)
        assert time.monotonic() - processes[0][0] < 600, "the 16 backups did not end within 10 minutes"
    results = [(process.pid, ended[process.pid], ds.module_result(process)) for _started, process in processes]
    return results


@pytest.mark.parametrize("lease_wait", [0, 240], ids=["no-wait", "lease-wait"])
def test_sixteen_concurrent_backups(site, lab, tmp_path, lease_wait):
    tally = ds.Tally("concurrent/%s" % ("lease_wait=%d" % lease_wait))
    before = ds.observe(lab, [SCOPE])
    results = run_all(site, tmp_path, lease_wait)
    after = ds.observe(lab, [SCOPE])
    pids = {pid for pid, _seconds, _result in results}
    ok = [result["backup"]["name"] for _pid, _s, result in results if not result.get("failed")]
    failed = [(pid, seconds, result) for pid, seconds, result in results if result.get("failed")]
    problems = {"truth": [], "records_lost": ds.lost_backups(before, after),
                "records_without_snapshots": ds.records_without_snapshots(after), "leftovers": ds.leftovers(after)}
    if len(set(ok)) != len(ok):
        problems["truth"].append("names used twice: %s" % sorted(n for n in set(ok) if ok.count(n) > 1))
    committed = {name for _scope, name in after.committed}
    problems["truth"] += ["%s returned ok but has no ok record" % name for name in ok if name not in committed]
    new = committed - {name for _scope, name in before.committed}
    if new != set(ok):
        problems["truth"].append("ok records %s but ok results %s" % (sorted(new), sorted(ok)))
    if lease_wait:
        problems["truth"] += ["run %d failed though it could wait %d s: %s" % (pid, lease_wait, result.get("msg", "")[-1200:])
                              for pid, _s, result in failed]
    else:
        if not ok:
            problems["truth"].append("no run succeeded")
        for pid, seconds, result in failed:
            code = result.get("error_code") or (result.get("error") or {}).get("code") or result.get("code")
            holder = str((result.get("error_details") or result.get("details") or {}).get("holder", ""))
            named = re.search(r"pid (\d+)", holder)
            if code != "SCOPE_BUSY":
                problems["truth"].append("run %d failed with %s, not SCOPE_BUSY: %s" % (pid, code, result.get("msg", "")[:300]))
            elif named is None or int(named.group(1)) not in pids - {pid}:
                problems["truth"].append("run %d: SCOPE_BUSY names holder %r, not another of the 16 runs" % (pid, holder))
            if seconds > 60:  # process start included, 16 at once on a loaded 2-core runner; waiting would be lease_ttl
                problems["truth"].append("run %d took %.0f s to fail: not fast" % (pid, seconds))
    case = "16 backups of 4 overlapping datasets, lease_wait=%d: %d ok, %d failed (%s)" % (
        lease_wait, len(ok), len(failed), ", ".join(sorted(set(str(r.get("error_code")) for _p, _s, r in failed))) or "-")
    print("\n%s; runs took %.1f-%.1f s" % (case, min(s for _p, s, _r in results), max(s for _p, s, _r in results)))
    tally.add(case, 0, problems)
    print("\n" + tally.summary())
    ds.report_findings(tally)
    assert not tally.failures, tally.summary()
