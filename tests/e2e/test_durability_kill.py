"""Issue 13: smhv_backup and smhv_restore (LUN-level and file copy) killed with SIGKILL mid-run, then run again (and
smhv_cleanup), on the lab.

Each module runs as a real process (`python plugins/modules/<module>.py args.json`, the module's own main() as AnsiballZ
runs it). A clean run counts its agent ops and ONTAP requests; then, at seeded random points, the Nth request (agent op
or ONTAP request, in arrival order) is held for a moment by a delay rule, the module is killed with SIGKILL while it
waits for that answer, and the held request then completes on the host or ONTAP with nobody listening, as it would on a
real site. The same operation then runs again, in-process (another controller process: the killed one's lease names a
pid that is gone), and must succeed; the oracles of durability_support are asserted, and whatever is left is given to
smhv_cleanup (break_lease), after which nothing may be left.
"""
from __future__ import annotations

import random
from urllib.parse import quote

import pytest

from e2e import durability_support as ds
from e2e.backup_support import DEFAULTS, LabSite
from lab_fixture import running_lab

SCOPE = "hv03"
DATASET = "kill"
VMS = ["vm-file01", "vm-print01", "vm-sql01"]
DATA = "C:\\data\\ledger.txt"
# what is killed: (module, the VM a restore restores, kill points)
RUNS = {"backup": ("smhv_backup", None, 5), "restore-lun": ("smhv_restore", "vm-print01", 5),
        "restore-file-copy": ("smhv_restore", "vm-file01", 3)}
SEED = 13
HOLD = 0.8  # seconds the request at the kill point is held before it runs


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("durability-kill") / "state") as handle:
        yield handle


@pytest.fixture(scope="module")
def site(lab):
    site = LabSite(lab)
    seed(site, lab)
    return site


def seed(site, lab):
    lab.reset()
    site.register(SCOPE, ds.SNAPINFO)
    site.dataset(SCOPE, ds.SNAPINFO, DATASET, VMS)
    with site.session(SCOPE) as session:
        session.owner.call("file_write", {"path": ds.POST_SCRIPT["path"], "content": "echo ok %1\r\n", "create_dirs": True})
    for vm in VMS:
        lab.control("POST", "/guest-data", {"vm": vm, "path": DATA, "data": "%s: before" % vm, "in_flight": False})
    backup = site.backup(SCOPE, DATASET, backup_method="checkpoint")
    assert backup["backup"]["status"] == "ok", backup
    site.backup_name = backup["backup"]["name"]
    for vm in VMS:
        lab.control("POST", "/guest-data", {"vm": vm, "path": DATA, "data": "%s: after" % vm, "in_flight": False})


def backup_params(site):
    return dict(DEFAULTS, **site.common, hyperv_host=SCOPE, dataset=DATASET, backup_method="checkpoint", update_snapmirror=True,
                post_script=dict(ds.POST_SCRIPT), retention={"tag": "daily", "count": 2, "age": None})


def restore_params(site, vm):
    from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_restore
    return ds.module_params(smhv_restore, **dict(site.common, hyperv_host=SCOPE, vm=vm, backup=site.backup_name))


def run_in_process(site, module, vm):
    if module == "smhv_backup":
        from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_backup
        return ds.attempt(smhv_backup.run, backup_params(site), False)
    from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_restore
    return ds.attempt(smhv_restore.run, restore_params(site, vm), False)


def params_for(site, module, vm):
    return backup_params(site) if module == "smhv_backup" else restore_params(site, vm)


def served(lab, layer):
    """Requests the lab has answered (agent ops since the log was cleared; ONTAP requests ever)."""
    return len(ds.agent_log(lab)) if layer == "agent" else sum(ds.ontap_counts(lab).values())


def guest(lab, vm):
    try:
        return lab.control("GET", "/guest-data?vm=%s&path=%s" % (quote(vm), quote(DATA)))["data"]
    except Exception as error:  # noqa: BLE001 - an unregistered VM or an offline disk: reported, not raised
        return "unreadable: %s" % error


@pytest.mark.parametrize("run", list(RUNS))
def test_sigkill_at_random_points(site, lab, run, tmp_path):
    module, vm, count = RUNS[run]
    tally = ds.Tally("sigkill/%s" % run)
    lab.control("DELETE", "/agent-requests")
    ontap_before = sum(ds.ontap_counts(lab).values())
    clean = ds.module_result(ds.start_module(module, params_for(site, module, vm), tmp_path))
    assert not clean.get("failed"), clean
    counts = {"agent": len(ds.agent_log(lab)), "ontap": sum(ds.ontap_counts(lab).values()) - ontap_before}
    chooser = random.Random("%s-%s" % (SEED, run))
    points = sorted(chooser.sample([("agent", n) for n in range(1, counts["agent"] + 1)]
                                   + [("ontap", n) for n in range(1, counts["ontap"] + 1)], count))
    print("\n%s: a clean run made %d agent ops and %d ONTAP requests; killed at %s" % (run, counts["agent"], counts["ontap"], points))
    for layer, nth in points:
        case = "killed while waiting for %s request #%d" % (layer, nth)
        before = ds.observe(lab, [SCOPE])
        lab.control("DELETE", "/faults")
        lab.control("DELETE", "/agent-requests")
        start = {"agent": 0, "ontap": served(lab, "ontap")}
        lab.control("POST", "/faults", {"target": layer, "kind": "delay", "nth": nth, "times": 1, "params": {"seconds": HOLD}})
        process = ds.start_module(module, params_for(site, module, vm), tmp_path)
        held = ds.wait_for(lambda: ds.fired(lab) > 0 or process.poll() is not None, timeout=60)
        fired = ds.fired(lab)
        problems = {"truth": [], "next_run": []}
        if process.poll() is not None:
            problems["truth"].append("the run ended before the kill point (%s)" % ds.module_result(process).get("msg", "ok"))
        ds.kill(process)
        if held and fired:  # the held request runs now, with nobody waiting for its answer: let it land first
            landed = ds.wait_for(lambda: served(lab, layer) >= start[layer] + nth, timeout=HOLD + 10)
            if not landed:
                problems["truth"].append("the held %s request #%d never ran" % (layer, nth))
        lab.control("DELETE", "/faults")
        result, error = run_in_process(site, module, vm)
        if error is not None:
            problems["next_run"].append("the run after the kill failed: %s: %s" % (error.code, error.message[:300]))
        after = ds.observe(lab, [SCOPE])
        problems["records_lost"] = [line for line in ds.lost_backups(before, after) if module == "smhv_restore" or
                                    not retention_victim(line, before, after)]
        problems["records_without_snapshots"] = ds.records_without_snapshots(after)
        problems["vm_problems"] = ds.unhealthy_vms(before, after)
        problems["leftovers"] = ds.leftovers(after)
        if problems["leftovers"]:  # what the run after the kill did not settle, smhv_cleanup must
            swept = ds.cleanup(site, SCOPE, break_lease=True)
            if swept is not None and swept[1] is not None:
                problems["next_run"].append("smhv_cleanup failed: %s: %s" % (swept[1].code, swept[1].message[:300]))
            after = ds.observe(lab, [SCOPE])
            problems["leftovers"] = ["after smhv_cleanup: %s" % item for item in ds.leftovers(after)]
        if vm is not None and guest(lab, vm) != "%s: before" % vm:
            problems["truth"].append("after the restore ran again, %s holds %r" % (vm, guest(lab, vm)))
        if tally.add(case, fired, problems):
            seed(site, lab)
        elif vm is not None:
            lab.control("POST", "/guest-data", {"vm": vm, "path": DATA, "data": "%s: after" % vm, "in_flight": False})
    print(tally.summary())
    ds.report_findings(tally)
    assert tally.cases == count and tally.faults_fired == count and not tally.failures, tally.summary()


def retention_victim(line, before, after):
    """Retention (count 2 of daily) may delete the older daily backups of `before` to make room for the ones committed
    since (the run after the kill, and the killed run when it got past its commit point)."""
    def dailies(snapshot):
        return sorted(record["name"] for view in snapshot.catalogs.values() for record in view.backups
                      if record.get("retention_tag") == "daily" and record.get("status") == "ok")
    old = dailies(before)
    made = len(set(dailies(after)) - set(old))
    keep = max(0, 2 - made)
    return any("backup %s " % name in line for name in old[:max(0, len(old) - keep)])
