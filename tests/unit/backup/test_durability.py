"""The backup engine's durability (issue 13): names claimed by a create-only journal, the commit point after which
nothing deletes a backup, the fenced lease, and the recovery of journals that runs left behind."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import BackupOptions
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.journal import OperationJournal
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import backup_name

VMS = ["vm-web01", "vm-db02"]  # one on each CSV, each on its own node
VOLUMES = ("vol_csv1", "vol_csv2")


def app(**kwargs):
    return BackupOptions.on_demand("application", **kwargs)


def crash(**kwargs):
    return BackupOptions.on_demand("crash", **kwargs)


class Killed(BaseException):
    """The module process killed: no step, roll-back or release runs after it."""


def records(bench, dataset="prod", scope="hvclus01"):
    catalog = bench.catalog(scope)
    return {r.name: r for r in catalog.get_backups(catalog.list_backups(dataset=dataset))}


def journals(bench, scope="hvclus01"):
    return [j.record.id for j in bench.catalog(scope).list_journals()]


def lease_is_free(bench, scope="hvclus01"):
    catalog = bench.catalog(scope)
    catalog.release_lease(catalog.acquire_lease(scope, "probe", datetime.timedelta(minutes=1)))
    return True


def assert_kept(bench, name):
    """A committed backup: recorded ok, its snapshot in every volume, its journal closed."""
    assert records(bench)[name].status == "ok"
    for volume in VOLUMES:
        assert name in bench.snapshots(volume)
    assert journals(bench) == []


def wrap_repository(bench, scope, on_write=None, on_delete=None):
    """Run `on_write(path, do_write)` around every catalog write (`do_write()` does it), `on_delete(paths)` before deletes."""
    repository = bench.catalog(scope).repository
    write, delete = repository.write, repository.delete

    def faulty_write(path, text, expected_sha256=None, create_only=False, fence=None):
        def do_write():
            return write(path, text, expected_sha256, create_only, fence)
        return on_write(path, do_write) if on_write else do_write()

    def faulty_delete(paths, fence=None):
        if on_delete:
            on_delete(paths)
        return delete(paths, fence)
    repository.write, repository.delete = faulty_write, faulty_delete


# -- names ---------------------------------------------------------------------------------------------

def test_two_runs_of_one_second_waiting_for_the_lease_get_two_names(bench):
    """Both start in the same second while the scope is busy; the first takes the lease and commits; the second then
    claims the next second's name, and the first backup's snapshots are never touched."""
    bench.dataset("hvclus01", "prod", VMS)
    first, second = bench.engine("hvclus01", lease_wait=600), bench.engine("hvclus01", lease_wait=600)
    take_lease, results = second._take_lease, []

    def first_gets_the_lease_first():
        results.append(first.run("prod", crash()))  # started in the same second, done before this run has the lease
        take_lease()
    second._take_lease = first_gets_the_lease_first
    bench.clock.tick()
    results.append(second.run("prod", crash()))
    names = [result["backup"]["name"] for result in results]
    assert results[1]["backup"]["time"] == (first.when + datetime.timedelta(seconds=1)).isoformat() and names[0] != names[1]
    for name in names:
        assert_kept(bench, name)
    assert sorted(records(bench)) == sorted(names)


def test_a_name_held_by_an_open_journal_is_not_taken(bench):
    """A run that died with its journal open still owns its name (its undo may still delete by it)."""
    bench.dataset("hvclus01", "prod", VMS)
    bench.clock.tick()
    engine = bench.engine("hvclus01")
    stamp = bench.clock().replace(microsecond=0)
    catalog = bench.catalog("hvclus01")
    # A journal under another lease file (so no recovery settles it here): its name is taken all the same.
    other = catalog.acquire_lease("hvclus01", "restore", datetime.timedelta(minutes=10), name="vm~elsewhere")
    OperationJournal.begin(catalog, "backup", "hvclus01", other, key=backup_name("prod", stamp), subject="prod", clock=bench.clock)
    result = engine.run("prod", crash())
    assert result["backup"]["name"] == backup_name("prod", stamp + datetime.timedelta(seconds=1))


# -- after the commit point nothing deletes the backup ---------------------------------------------------------------

def _fault_replication(bench):
    bench.faults.fail("snapmirror.update", code="STORAGE_ERROR")


def _fault_post_script(bench):
    bench.faults.fail("run_script", code="HOST_UNREACHABLE")


def _fault_snapinfo(bench):
    bench.faults.fail("snapinfo", code="STORAGE_ERROR")


def _fault_retention(bench):
    def on_delete(paths):
        if any("/backups/" in path for path in paths):
            raise SmhvError("HOST_UNREACHABLE", "Injected: the record deletion did not reach the host.")
    wrap_repository(bench, "hvclus01", on_delete=on_delete)


def _fault_release(bench):
    original = bench.catalog("hvclus01").release_lease

    def failing_release(held):
        raise SmhvError("HOST_UNREACHABLE", "Injected: the lease release did not reach the host.")
    bench.catalog("hvclus01").release_lease = failing_release
    return original


def _fault_vm_index(bench):
    def on_write(path, do_write):
        if "/index/" in path:
            raise SmhvError("HOST_UNREACHABLE", "Injected: the VM index write did not reach the host.")
        return do_write()
    wrap_repository(bench, "hvclus01", on_write=on_write)


def _lost_record_answer(bench):
    def on_write(path, do_write):
        written = do_write()
        if "/backups/" in path:
            raise SmhvError("HOST_UNREACHABLE", "Injected: the answer to the record write was lost.", {"may_have_run": True})
        return written
    wrap_repository(bench, "hvclus01", on_write=on_write)


def _lost_record_answer_and_read_back_later(bench):
    """The record write's answer is lost and the catalog's own read-back fails too: the engine's read-back settles it."""
    state = {"lost": False}
    repository = bench.catalog("hvclus01").repository
    read = repository.read

    def on_write(path, do_write):
        written = do_write()
        if "/backups/" in path and not state["lost"]:
            state["lost"] = True
            raise SmhvError("HOST_UNREACHABLE", "Injected: the answer to the record write was lost.", {"may_have_run": True})
        return written

    def flaky_read(paths):
        if state["lost"] and state.setdefault("reads", 0) == 0 and any("/backups/" in path for path in paths):
            state["reads"] = 1
            raise SmhvError("HOST_UNREACHABLE", "Injected: the read-back did not reach the host.")
        return read(paths)
    wrap_repository(bench, "hvclus01", on_write=on_write)
    repository.read = flaky_read


POST_COMMIT = {
    "replication": (_fault_replication, "replication"),
    "retention": (_fault_retention, "retention"),
    "post_script": (_fault_post_script, "post_script"),
    "snapinfo": (_fault_snapinfo, "snapinfo"),
    "release": (_fault_release, "release"),
    "vm_index": (_fault_vm_index, "vm_index"),
    "lost_record_answer": (_lost_record_answer, None),
    "lost_record_answer_read_back": (_lost_record_answer_and_read_back_later, "vm_index"),
}


@pytest.mark.parametrize("case", sorted(POST_COMMIT))
def test_a_failure_after_the_commit_point_keeps_the_backup(bench, case):
    bench.dataset("hvclus01", "prod", VMS)
    for node in ("hv01", "hv02"):
        bench.world.hosts[node].write_file(bench.world, "C:\\scripts\\post.cmd", b"echo ok\r\n")
    options = app(update_snapmirror=True, retention={"tag": "daily", "count": 1}, post_script={"path": "C:\\scripts\\post.cmd"})
    older = bench.run("hvclus01", "prod", options)["backup"]["name"]
    fault, step = POST_COMMIT[case]
    restore_release = fault(bench)
    result = bench.run("hvclus01", "prod", options)
    name = result["backup"]["name"]
    assert result["changed"] is True and result["backup"]["status"] == "ok"
    assert_kept(bench, name)
    record = records(bench)[name]
    if step is None:  # settled by reading back: nothing to warn about
        assert result["backup"]["warnings"] == [] and record.warnings == ()
    else:
        assert [w["step"] for w in result["backup"]["warnings"]] == [step], result["backup"]["warnings"]
        assert [w["step"] for w in record.warnings] == [step] and record.warnings[0]["code"]
        assert any("Backup %s" % name in warning and step in warning for warning in result["warnings"]), result["warnings"]
    if case == "replication":
        assert name not in bench.snapshots("vol_csv1_dr", cluster="cluster-b")
    if case == "retention":  # records go first: the record deletion failed, so nothing was deleted (the next run retries)
        assert older in bench.snapshots("vol_csv1") and older in records(bench)
    else:
        assert older not in records(bench) and older not in bench.snapshots("vol_csv1")
    if case == "release":
        bench.catalog("hvclus01").release_lease = restore_release
        bench.clock.tick(3600)  # the unreleased lease expires
    assert lease_is_free(bench)
    bench.faults.rules.clear()
    assert bench.run("hvclus01", "prod", options)["backup"]["status"] == "ok"


def test_fail_on_replication_error_fails_the_task_and_keeps_the_backup(bench):
    bench.dataset("hvclus01", "prod", VMS)
    bench.faults.fail("snapmirror.update", code="STORAGE_ERROR")
    with pytest.raises(SmhvError) as failed:
        bench.run("hvclus01", "prod", crash(update_snapmirror=True), fail_on_replication_error=True)
    error = failed.value
    assert error.code == "STORAGE_ERROR" and error.details["kept"] is True and error.details["step"] == "replication"
    name = error.details["backup"]
    assert "is kept" in error.message and error.details["result"]["backup"]["status"] == "ok"
    assert_kept(bench, name)
    assert lease_is_free(bench)


# -- the fenced lease -------------------------------------------------------------------------------------------------

def _taken_over_after_the_snapshot(bench):
    """The lease expires while ONTAP takes the snapshot, and another controller takes the scope."""
    create = bench.storage.create_snapshots

    def slow_create(*args, **kwargs):
        taken = create(*args, **kwargs)
        bench.clock.tick(60)
        bench.catalog("hvclus01").acquire_lease("hvclus01", "other controller", datetime.timedelta(minutes=5))
        return taken
    bench.storage.create_snapshots = slow_create
    return create


def test_a_run_that_lost_its_lease_commits_and_deletes_nothing_and_the_next_run_undoes_it(bench):
    bench.dataset("hvclus01", "prod", VMS)
    engine = bench.engine("hvclus01", lease_ttl=datetime.timedelta(seconds=10))
    create = _taken_over_after_the_snapshot(bench)
    bench.clock.tick()
    with pytest.raises(SmhvError) as lost:
        engine.run("prod", app())
    error = lost.value
    name = error.details["backup"]
    assert error.code == "LEASE_LOST" and error.details["step"] == "lease" and "other controller" in error.message
    assert bench.checkpoints() == {}  # its own checkpoints, on its claimed name: removed
    for volume in VOLUMES:  # deleted nothing
        assert bench.snapshots(volume) == [name]
    assert records(bench) == {}  # committed nothing, not even the failed attempt
    assert journals(bench) == ["backup~" + name]  # left for the lease's next holder
    with pytest.raises(SmhvError) as busy:  # the other holder's lease was not released by us
        bench.catalog("hvclus01").acquire_lease("hvclus01", "probe", datetime.timedelta(minutes=1))
    assert busy.value.code == "SCOPE_BUSY"
    # The other holder ends; the next backup settles the abandoned journal first.
    bench.storage.create_snapshots = create
    bench.clock.tick(600)
    result = bench.run("hvclus01", "prod", app())
    assert [(r["journal"], bool(r.get("undone"))) for r in result["recovered"]] == [("backup~" + name, True)]
    for volume in VOLUMES:
        assert bench.snapshots(volume) == [result["backup"]["name"]]
    assert journals(bench) == [] and list(records(bench)) == [result["backup"]["name"]]


def test_retention_of_a_run_that_lost_its_lease_deletes_nothing(bench):
    bench.dataset("hvclus01", "prod", VMS)
    keep1 = crash(retention={"tag": "daily", "count": 1})
    first = bench.run("hvclus01", "prod", keep1)["backup"]["name"]
    engine = bench.engine("hvclus01", lease_ttl=datetime.timedelta(seconds=10))
    record = engine._record

    def record_then_lose_the_lease():
        record()
        bench.clock.tick(60)
        bench.catalog("hvclus01").acquire_lease("hvclus01", "other controller", datetime.timedelta(minutes=5))
    engine._record = record_then_lose_the_lease
    bench.clock.tick()
    result = engine.run("prod", keep1)
    assert result["backup"]["status"] == "ok"
    assert {w["step"] for w in result["backup"]["warnings"]} >= {"retention", "release"}
    assert first in records(bench) and first in bench.snapshots("vol_csv1")  # nothing deleted


# -- recovery of journals that runs left ------------------------------------------------------------------------------

def test_a_run_killed_before_the_commit_is_undone_by_the_next_one(bench):
    bench.dataset("hvclus01", "prod", VMS)
    create = bench.storage.create_snapshots

    def killed_after_the_snapshot(*args, **kwargs):
        create(*args, **kwargs)
        raise Killed()
    bench.storage.create_snapshots = killed_after_the_snapshot
    bench.clock.tick()
    engine = bench.engine("hvclus01")
    with pytest.raises(Killed):
        engine.run("prod", app())
    name = engine.name
    assert bench.snapshots("vol_csv1") == [name] and len(bench.checkpoints()) == 2 and journals(bench) == ["backup~" + name]
    bench.storage.create_snapshots = create
    bench.clock.tick(3600)  # the dead run's lease expires
    result = bench.run("hvclus01", "prod", app())
    (recovered,) = result["recovered"]
    assert recovered["journal"] == "backup~" + name and "removed checkpoint smhv_%s" % name in recovered["undone"]
    assert bench.checkpoints() == {} and journals(bench) == []
    for volume in VOLUMES:
        assert bench.snapshots(volume) == [result["backup"]["name"]]
    assert list(records(bench)) == [result["backup"]["name"]]


def test_a_run_killed_after_the_commit_is_closed_not_undone(bench):
    bench.dataset("hvclus01", "prod", VMS)
    catalog = bench.catalog("hvclus01")
    delete_journal = catalog.delete_journal

    def killed_at_the_close(*args, **kwargs):
        raise Killed()
    catalog.delete_journal = killed_at_the_close
    bench.clock.tick()
    engine = bench.engine("hvclus01")
    with pytest.raises(Killed):
        engine.run("prod", crash())
    name = engine.name
    assert records(bench)[name].status == "ok" and journals(bench) == ["backup~" + name]
    catalog.delete_journal = delete_journal
    bench.clock.tick(3600)
    result = bench.run("hvclus01", "prod", crash())
    (recovered,) = result["recovered"]
    assert recovered["journal"] == "backup~" + name and "committed" in recovered["finished"]
    for volume in VOLUMES:
        assert bench.snapshots(volume) == [name, result["backup"]["name"]]
    assert journals(bench) == [] and sorted(records(bench)) == sorted([name, result["backup"]["name"]])


def test_an_undo_that_cannot_finish_leaves_the_journal_open_for_the_next_run(bench):
    bench.dataset("hvclus01", "prod", VMS)
    bench.faults.fail("create_snapshots", code="STORAGE_ERROR")
    bench.faults.fail("delete_snapshot", code="STORAGE_ERROR", times=10)
    with pytest.raises(SmhvError) as failed:
        bench.run("hvclus01", "prod", crash())
    error = failed.value
    name = error.details["backup"]
    assert error.details["step"] == "snapshot" and error.details["undo"]["left_behind"]
    assert any("stays open" in text for text in error.details["undo"]["left_behind"])
    (journal,) = bench.catalog("hvclus01").list_journals()
    assert journal.record.id == "backup~" + name and journal.record.state == "undo_incomplete"
    assert lease_is_free(bench)
    bench.faults.rules.clear()
    result = bench.run("hvclus01", "prod", crash())
    assert [r["journal"] for r in result["recovered"]] == ["backup~" + name] and journals(bench) == []
    assert [s.status for s in bench.catalog("hvclus01").list_backups(dataset="prod")] == ["failed", "ok"]


def test_check_mode_journals_nothing(bench):
    bench.dataset("hvclus01", "prod", VMS)
    result = bench.run("hvclus01", "prod", app(), check_mode=True)
    assert result["backup"]["status"] == "planned" and journals(bench) == [] and records(bench) == {}


def test_smhv_cleanup_recovers_a_backup_journal_with_its_own_context(bench):
    """smhv_cleanup's RecoveryContext has a session, the storage and the catalog: the backup recovery takes the nodes
    from the session and fences its deletions with the lease the journal was taken over with."""
    import types
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import journal as journal_module
    bench.dataset("hvclus01", "prod", VMS)
    create = bench.storage.create_snapshots

    def killed_after_the_snapshot(*args, **kwargs):
        create(*args, **kwargs)
        raise Killed()
    bench.storage.create_snapshots = killed_after_the_snapshot
    bench.clock.tick()
    engine = bench.engine("hvclus01")
    with pytest.raises(Killed):
        engine.run("prod", app())
    bench.storage.create_snapshots = create
    bench.clock.tick(3600)
    catalog = bench.catalog("hvclus01")
    held = catalog.acquire_lease("hvclus01", "smhv_cleanup", datetime.timedelta(minutes=5))
    owner = bench.world.failover_clusters["hvclus01"].owner_node
    others = {node: bench.hosts[node] for node in ("hv01", "hv02") if node != owner}
    session = types.SimpleNamespace(name="hvclus01", owner=bench.hosts[owner], owner_node=owner, other_nodes=lambda: others)
    context = types.SimpleNamespace(session=session, storage=bench.storage, catalog=catalog, scope="hvclus01", warnings=[])
    (outcome,) = journal_module.recover(catalog, held, context)
    assert outcome["journal"] == "backup~" + engine.name and "error" not in outcome, outcome
    assert bench.checkpoints() == {} and journals(bench) == [] and records(bench) == {}
    for volume in VOLUMES:
        assert bench.snapshots(volume) == []


def test_retention_deletes_records_before_snapshots_and_puts_a_busy_ones_back(bench):
    """An ok record never names a snapshot that is gone: a run stopped between the two leaves snapshots without a
    record (smhv_cleanup's), never the reverse."""
    bench.dataset("hvclus01", "prod", VMS)
    keep1 = crash(retention={"tag": "daily", "count": 1})
    first = bench.run("hvclus01", "prod", keep1)["backup"]["name"]
    seen = []
    delete_snapshots = bench.storage.delete_snapshots

    def look_then_delete(snapshots):
        seen.append(first in records(bench))
        return delete_snapshots(snapshots)
    bench.storage.delete_snapshots = look_then_delete
    second = bench.run("hvclus01", "prod", keep1)
    assert second["retention"]["deleted"] == [first] and seen and not any(seen)
    assert first not in bench.snapshots("vol_csv1") and first not in records(bench)


def test_a_journal_write_that_landed_but_failed_is_rolled_back_cleanly(bench):
    """The snapshot intent is written but its answer is garbled (no may_have_run): the step fails before anything is
    made there, and the roll-back works from the journal as the SnapInfo holds it (not a stale version of it)."""
    bench.dataset("hvclus01", "prod", VMS)
    writes = []

    def on_write(path, do_write):
        written = do_write()
        if "/journals/" in path:
            writes.append(path)
            if len(writes) == 3:  # begin, checkpoint intent, snapshot intent
                raise SmhvError("HOST_PROTOCOL_ERROR", "Injected: the agent's answer could not be read.")
        return written
    wrap_repository(bench, "hvclus01", on_write=on_write)
    bench.clock.tick()
    with pytest.raises(SmhvError) as failed:
        bench.engine("hvclus01").run("prod", app())
    error = failed.value
    assert error.details["step"] == "snapshot" and error.details["undo"]["left_behind"] == [], error.details["undo"]
    assert bench.checkpoints() == {} and journals(bench) == [] and lease_is_free(bench)
    for volume in VOLUMES:
        assert bench.snapshots(volume) == []


def test_retention_that_deletes_some_snapshots_of_a_backup_writes_back_only_what_is_left(bench):
    bench.dataset("hvclus01", "prod", VMS)
    keep1 = crash(retention={"tag": "daily", "count": 1})
    first = bench.run("hvclus01", "prod", keep1)["backup"]["name"]
    bench.faults.fail("delete_snapshot", nth=bench.faults.counts["delete_snapshot"] + 2, code="SNAPSHOT_BUSY")  # vol_csv2's
    second = bench.run("hvclus01", "prod", keep1)
    assert second["backup"]["status"] == "ok" and second["retention"]["failed"] == [first]
    assert first not in bench.snapshots("vol_csv1") and first in bench.snapshots("vol_csv2")
    kept = records(bench)[first]
    outcomes = {vm.name: vm.outcome for vm in kept.vms}
    assert outcomes == {"vm-web01": "skipped", "vm-db02": "online"}  # vm-web01's snapshot on vol_csv1 is gone
    bench.faults.rules.clear()
    third = bench.run("hvclus01", "prod", keep1)
    assert first in third["retention"]["deleted"] and first not in records(bench) and first not in bench.snapshots("vol_csv2")
