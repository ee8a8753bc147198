"""Issue 13's fault matrix for smhv_backup, through the real protocols against the lab.

A counting pass runs one clean backup (SnapMirror update, a post-script and retention that deletes a backup, so every
step after the commit point exists) and records every request it makes: agent ops in order, ONTAP requests per route.
Then each is failed in turn, both ways: an error answer, and a lost answer after the host or ONTAP acted (the agent's
answer dropped after the op ran; the poll of an ONTAP job dropped after the job ran; a synchronous ONTAP request's
connection dropped). Reads fail once per kind. After each case the next backup runs (and smhv_cleanup, once it exists),
and the oracles of durability_support are asserted against the lab's own state.

Checkpoint and crash-consistent backups of hv03 (vm-file01 and vm-print01 on vol_hv03, which is mirrored; vm-sql01 on
vol_hv03_sql, so the snapshot goes through a temporary consistency group). The crash pass fails only the requests the
checkpoint pass did not already cover (by step and request), so every step of both is failed once each way.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from e2e import durability_support as ds
from e2e.backup_support import LabSite
from lab_fixture import running_lab

KEEP = 2  # daily backups retention keeps: each run past the second deletes the oldest
# Cases that fail today, run by test_durability_pending.py (not committed) until the engines pass them.
DEFERRED = set()


@dataclass(frozen=True)
class Target:
    """What a matrix backs up. `node`: fail only the requests to this host (a cluster's other node; None: all)."""

    scope: str
    dataset: str
    vms: tuple
    method: dict
    node: str = None


TARGETS = {
    "checkpoint": Target("hv03", "dur", ("vm-file01", "vm-print01", "vm-sql01"), {"backup_method": "checkpoint"}),
    "crash": Target("hv03", "dur", ("vm-file01", "vm-print01", "vm-sql01"), {"backup_type": "crash"}),
    # hvclus01 from its owner node hv01: vm-web01 on hv01, vm-web02 and vm-db02 on hv02, on both CSVs. Only hv02's
    # requests fail: a node that is not the coordinator checkpoints, runs the post-script, and loses an answer.
    "checkpoint-cluster": Target("hvclus01", "durc", ("vm-web01", "vm-web02", "vm-db02"), {"backup_method": "checkpoint"},
                                 node="hv02"),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("durability-backup") / "state") as handle:
        yield handle


@pytest.fixture(scope="module")
def site(lab):
    return LabSite(lab)


def seed(site, lab, target):
    """The lab as each case starts: the dataset, a weekly backup and KEEP daily ones. Again after a case that left
    something behind, so that one finding does not fail every case after it."""
    lab.reset()
    site.register(target.scope, ds.SNAPINFO)
    site.dataset(target.scope, ds.SNAPINFO, target.dataset, list(target.vms))
    with site.session(target.scope) as session:
        for client in [session.owner] + list(session.other_nodes().values()):
            client.call("file_write", {"path": ds.POST_SCRIPT["path"], "content": "echo ok %1\r\n", "create_dirs": True})
    weekly = site.backup(target.scope, target.dataset, backup_method="checkpoint", retention={"tag": "weekly", "count": 50, "age": None})
    assert weekly["backup"]["status"] == "ok", weekly  # never in retention's reach: must survive every case
    for _daily in range(KEEP):
        assert site.backup(target.scope, target.dataset, **options(target))["backup"]["status"] == "ok"


def options(target):
    return dict(target.method, update_snapmirror=True, post_script=dict(ds.POST_SCRIPT),
                retention={"tag": "daily", "count": KEEP, "age": None})


def stamp(name):
    return datetime.datetime.strptime(ds.BACKUP_NAME.match(name).group("stamp"), "%m-%d-%Y_%H.%M.%S")


def retention_may_delete(snapshot, made, scope):
    """The ok daily records that retention may delete when a run committed `made`: all but the newest KEEP - 1 before."""
    if not made:
        return set()
    dailies = sorted((name for view in snapshot.catalogs.values() for name in ds.ok_records(view)
                      if any(r["name"] == name and r.get("retention_tag") == "daily" for r in view.backups)), key=stamp)
    return {(scope, name) for name in dailies[:max(0, len(dailies) - (KEEP - 1))]}


def lost(before, after, made, scope):
    allowed = retention_may_delete(before, made, scope)
    return [line for line in ds.lost_backups(before, after) if not any("backup %s " % name in line for _scope, name in allowed)]


class CommitTracer(ds.Recorder):
    """The clean run's requests, and where its commit point fell: the agent ops and ONTAP counts when the ok record's
    write (Catalog.save_backup) began and returned."""

    def _trace(self):
        undo_steps = super()._trace()
        from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import catalog
        original = catalog.Catalog.save_backup
        recorder = self
        self.commit = None

        def save_backup(self, record, *args, **kwargs):
            began = (len(ds.agent_log(recorder.lab)), ds.ontap_counts(recorder.lab))
            answer = original(self, record, *args, **kwargs)
            if record.status == "ok":
                recorder.commit = (began, (len(ds.agent_log(recorder.lab)), ds.ontap_counts(recorder.lab)))
            return answer

        catalog.Catalog.save_backup = save_backup

        def undo():
            catalog.Catalog.save_backup = original
            undo_steps()
        return undo

    def phase(self, point, index_of):
        """'before', 'commit' (the record's own writes) or 'after' the commit point, for a point of this run."""
        if self.commit is None:
            return "before"
        (agents_began, ontap_began), (agents_done, ontap_done) = self.commit
        if point.layer == "agent":
            index = index_of[point]
            return "before" if index < agents_began else "commit" if index < agents_done else "after"
        method, route = point.key.split(" ", 1)
        key = (point.where, method, route)
        position = self.ontap_before.get(key, 0) + point.nth
        return "before" if position <= ontap_began.get(key, 0) else "commit" if position <= ontap_done.get(key, 0) else "after"


def run_backup(site, target):
    return ds.attempt(site.backup, target.scope, target.dataset, **options(target))


def matrix(site, lab, method, covered, wanted=lambda key: True):
    target = TARGETS[method]
    scope = target.scope
    tally = ds.Tally("backup/%s" % method)
    seed(site, lab, target)
    recorder = CommitTracer(lab)
    with recorder.recording():
        clean = site.backup(scope, target.dataset, **options(target))
    assert clean["backup"]["status"] == "ok", clean
    points = recorder.points()
    agent_points = [p for p in points if p.layer == "agent"]
    index_of = {p: i for i, p in enumerate(agent_points)}
    assert recorder.commit is not None, "the clean run wrote no ok record"
    steps = sorted({p.step for p in points})

    def group(point):  # after the commit point the steps are not journaled: replication, retention, post-script,
        # SnapInfo snapshot and release are told apart by their requests (a read of each too)
        phase = recorder.phase(point, index_of)
        return (ds.base_step(point), phase) + ((point.layer, point.key) if phase == "after" and not point.mutating else ())

    cases = ds.select([p for p in points if target.node in (None, p.where)], group, covered)
    print("\n%s: %d requests in a clean run (%d agent ops), journal steps %s; %d cases"
          % (tally.title, len(points), len(agent_points), steps, len(cases)))
    cases = [(point, how, "%s %s" % (tally.title, key)) for point, how, key in cases]
    deferred = [key for _p, _h, key in cases if not wanted(key)]
    cases = [case for case in cases if wanted(case[2])]
    print("cases: %s" % ", ".join("%s (%s %s)" % (key.split(" ", 1)[1], point.label, how) for point, how, key in cases))
    if deferred:
        print("%d cases run by test_durability_pending.py instead: %s" % (len(deferred), deferred))
    for point, how, key in cases:
        phase = recorder.phase(point, index_of)
        case = "%s: %s %s [%s, %s commit]" % (key, point.label, how, point.step, phase)
        before = ds.observe(lab, [scope])
        ds.inject(lab, point, how)
        result, error = run_backup(site, target)
        fired = ds.fired(lab)
        lab.control("DELETE", "/faults")
        mid = ds.observe(lab, [scope])
        name = result["backup"]["name"] if result else (error.details or {}).get("backup")
        ok_now = {n for (_s, n) in mid.committed}
        truth = []
        if fired == 0:
            truth.append("the fault never fired (the run took another path)")
        if isinstance(error, ds.Unexpected):
            truth.append("the run ended in an unexpected exception (a traceback in Ansible): %s" % error.message[:300])
        if error is not None and name in ok_now and (scope, name) not in before.committed:
            truth.append("the run failed (%s) but its backup %s is recorded ok" % (error.code, name))
        if result is not None and result["backup"]["name"] not in ok_now:
            truth.append("the run returned ok but %s has no ok record" % result["backup"]["name"])
        must_commit = phase == "after" or (phase == "commit" and how == "lost" and point.layer == "agent" and point.key == "file_write"
                                           and index_of[point] == recorder.commit[0][0])
        if must_commit and name not in ok_now:
            truth.append("a fault after the commit point lost backup %s (%s)" % (name, error.code if error else "no error"))
        if must_commit and error is not None:
            truth.append("a fault after the commit point failed the task: %s: %s" % (error.code, error.message[:200]))
        problems = {"records_lost": lost(before, mid, name if name in ok_now else None, scope),
                    "records_without_snapshots": ds.records_without_snapshots(mid), "vm_problems": ds.unhealthy_vms(before, mid),
                    "truth": truth}
        following, next_error, swept = None, None, None
        if error is not None or ds.leftovers(mid):  # else the next case's run is the next run
            following, next_error = run_backup(site, target)
            if next_error is not None:
                problems["next_run"] = ["the next backup failed: %s: %s" % (next_error.code, next_error.message[:300])]
        after = ds.observe(lab, [scope])
        if ds.leftovers(after):  # what the next run did not settle, smhv_cleanup must
            swept = ds.cleanup(site, scope)
            after = ds.observe(lab, [scope])
        made = following["backup"]["name"] if following else None
        problems["records_lost"] += lost(mid, after, made, scope)
        problems["records_without_snapshots"] += ds.records_without_snapshots(after)
        problems["leftovers"] = ds.leftovers(after)
        problems["vm_problems"] += ds.unhealthy_vms(before, after)
        if swept is not None and swept[1] is not None:
            problems.setdefault("next_run", []).append("smhv_cleanup failed: %s: %s" % (swept[1].code, swept[1].message[:300]))
        if tally.add(case, fired, problems):
            seed(site, lab, target)
    ds.final_sweep(tally, site, lab, scope)
    return tally


@pytest.fixture(scope="module")
def covered():
    return {}


@pytest.mark.parametrize("method", list(TARGETS))
def test_backup_fault_matrix(site, lab, method, covered):
    # Checkpoint and crash backups differ before the commit point (the crash one has no checkpoints to remove, its
    # inventory is a call of its own); from the record on they run the same steps, failed once for both.
    done = covered.setdefault(TARGETS[method].node, set())
    shared = {key for key in done if key[0] in ("journal-first", "journal-last") or key[0][1] in ("commit", "after")}
    tally = matrix(site, lab, method, shared, wanted=lambda key: key not in DEFERRED)
    done.update(shared)
    print(tally.summary())
    ds.report_findings(tally)
    assert tally.faults_fired > 0 and not tally.failures, tally.summary()
