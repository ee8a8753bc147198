"""The backup engine over the in-process lab world: both consistency types, both application methods,
VM states, clusters, retention, replication, scripts, the lease, and every step's failure undone."""
from __future__ import annotations

import dataclasses
import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import BackupEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import BackupOptions
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from smhv_lab.world.windows import read_vhdx, write_guest_data

CLUSTER_VMS = ["vm-web01", "vm-web02", "vm-app01", "vm-app02", "vm-db01", "vm-db02"]
DB = "C:\\data\\x.db"


def app(**kwargs):
    return BackupOptions.on_demand("application", **kwargs)


def crash(**kwargs):
    return BackupOptions.on_demand("crash", **kwargs)


def guest_file_in_snapshot(bench, vm_name, snapshot, volume, path="data\\x.db"):
    """The guest file as the snapshot holds it in the VM's first VHDX (base disk: checkpoints sit on top)."""
    vm = bench.vm(vm_name)
    vol = bench.world.clusters["cluster-a"].volume(volume)
    image = next(iter(vol.snapshot(snapshot).luns.values()))
    vhdx = vm.vhd_paths[0].split("\\", 3)[-1] if vm.vhd_paths[0].startswith("C:\\ClusterStorage") else vm.vhd_paths[0][3:]
    return read_vhdx(image.content.files.read(vhdx))["guest_files"].get(path)


def test_application_backup_of_a_cluster_one_snapshot_per_csv(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    write_guest_data(bench.world, bench.vm("vm-db02").id, DB, "committed-transaction", in_flight=True)
    result = bench.run("hvclus01", "prod", app())
    name = result["backup"]["name"]
    assert result["backup"]["method"] == "checkpoint" and result["backup"]["type"] == "application"
    assert bench.snapshots("vol_csv1") == [name] and bench.snapshots("vol_csv2") == [name]
    assert [s["snapshots"] for s in result["snapshots"]] == [[name], [name]]
    assert bench.checkpoints() == {}  # removed again (merged)
    assert {vm["outcome"] for vm in result["vms"]} == {"online"}
    # Checkpoints ran on each VM's owner node, once per node, in one call each that also took the inventory.
    for node in ("hv01", "hv02"):
        calls = bench.hosts[node].calls
        assert calls["backup_checkpoint"] == 1 and calls["checkpoint_remove"] == 1 and calls["vm_inventory"] == 0, calls
    assert {vm["host"] for vm in result["vms"]} == {"hv01", "hv02"}
    assert result["timings"]["checkpoint_seconds_max"] >= 0 and set(result["timings"]["checkpoint_seconds_per_host"]) == {"hv01", "hv02"}
    # In-flight guest write: complete in the snapshot (the production checkpoint flushed it).
    assert guest_file_in_snapshot(bench, "vm-db02", name, "vol_csv2") == {"data": "committed-transaction", "complete": True}
    (record,) = bench.catalog("hvclus01").get_backups(bench.catalog("hvclus01").list_backups(dataset="prod"))
    assert record.status == "ok" and record.method == "checkpoint" and len(record.vms) == 6
    assert record.vms[0].files[0].snapshots == (name,)
    assert bench.snapinfo_taken == [record.snapinfo_snapshot]
    assert bench.catalog("hvclus01").acquire_lease("hvclus01", "next", datetime.timedelta(minutes=1))  # released


def test_crash_backup_captures_the_write_torn_and_every_state(bench):
    bench.dataset("hvclus01", "all", CLUSTER_VMS + ["vm-dc01", "vm-test01"])
    write_guest_data(bench.world, bench.vm("vm-db02").id, DB, "committed-transaction", in_flight=True)
    result = bench.run("hvclus01", "all", crash())
    name = result["backup"]["name"]
    assert result["backup"]["method"] == "crash" and bench.hosts["hv01"].calls["checkpoint_create"] == 0
    torn = guest_file_in_snapshot(bench, "vm-db02", name, "vol_csv2")
    assert torn["complete"] is False and torn["data"] == "committed-"  # half of it
    outcomes = {vm["name"]: vm["outcome"] for vm in result["vms"]}
    assert outcomes["vm-dc01"] == "saved" and outcomes["vm-test01"] == "offline" and outcomes["vm-web01"] == "online"


def test_saved_and_off_vms_fail_unless_allowed(bench):
    bench.dataset("hvclus01", "mixed", ["vm-web01", "vm-dc01", "vm-test01"])
    with pytest.raises(SmhvError) as refused:
        bench.run("hvclus01", "mixed", app())
    assert refused.value.code == "VM_STATE_NOT_ALLOWED" and refused.value.details["step"] == "validate"
    assert "vm-dc01 is Saved" in refused.value.message and "vm-test01 is Off" in refused.value.message
    # The states came with the checkpoint call; both nodes had a refused VM, so neither checkpointed anything.
    assert bench.snapshots("vol_csv1") == [] and bench.checkpoints() == {}
    (attempt,) = bench.catalog("hvclus01").get_backups(bench.catalog("hvclus01").list_backups())
    assert attempt.status == "failed" and attempt.failed_step == "validate" and attempt.error_code == "VM_STATE_NOT_ALLOWED"
    assert {vm.name: vm.outcome for vm in attempt.vms} == {"vm-web01": "online", "vm-dc01": "skipped", "vm-test01": "skipped"}
    assert refused.value.details["undo"]["left_behind"] == []
    bench.clock.tick()
    result = bench.run("hvclus01", "mixed", app(allow_saved_state=True))
    outcomes = {vm["name"]: (vm["outcome"], vm["checkpoint_seconds"] is not None) for vm in result["vms"]}
    assert outcomes == {"vm-web01": ("online", True), "vm-dc01": ("saved", False), "vm-test01": ("offline", False)}


def test_a_vm_refused_on_one_node_undoes_the_checkpoints_of_the_other(bench):
    # hv01 checkpoints its running VMs in the same call that inventories them; hv02 has vm-test01 Off and
    # checkpoints nothing. The controller's rule check then refuses the backup and removes hv01's checkpoints.
    bench.dataset("hvclus01", "prod", CLUSTER_VMS + ["vm-test01"])
    with pytest.raises(SmhvError) as refused:
        bench.run("hvclus01", "prod", app())
    error = refused.value
    assert error.code == "VM_STATE_NOT_ALLOWED" and error.details["step"] == "validate" and "vm-test01 is Off" in error.message
    assert "removed checkpoint smhv_%s" % error.details["backup"] in error.details["undo"]["undone"]
    assert error.details["undo"]["left_behind"] == [] and bench.checkpoints() == {} and bench.snapshots("vol_csv1") == []
    assert bench.hosts["hv01"].calls["checkpoint_remove"] == 1 and bench.hosts["hv02"].calls["checkpoint_remove"] == 0
    assert bench.run("hvclus01", "prod", app(allow_saved_state=True))["backup"]["status"] == "ok"


def test_a_vm_gone_from_every_node_fails_the_checkpoint_step_and_is_undone(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    gone = bench.vm("vm-web02")
    del bench.world.hosts["hv02"].vms[gone.id]
    with pytest.raises(SmhvError) as missing:
        bench.run("hvclus01", "prod", app())
    error = missing.value
    assert error.code == "VM_NOT_FOUND" and error.details["step"] == "checkpoint" and error.details["missing"] == [gone.id]
    assert error.details["undo"]["left_behind"] == [] and bench.checkpoints() == {}
    (attempt,) = bench.catalog("hvclus01").list_backups(dataset="prod")
    assert attempt.status == "failed"


def test_a_node_that_cannot_be_reached_fails_the_backup_and_is_not_cleaned(bench):
    # The checkpoint call never reached one node (no may_have_run): the other node's checkpoints are removed,
    # the unreachable node is not asked, and nothing is reported left behind.
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    bench.faults.fail("backup_checkpoint", code="HOST_UNREACHABLE")
    with pytest.raises(SmhvError) as failed:
        bench.run("hvclus01", "prod", app())
    error = failed.value
    assert error.code == "HOST_UNREACHABLE" and error.details["step"] == "checkpoint"
    assert error.details["undo"]["left_behind"] == [] and bench.checkpoints() == {}
    removed = [node for node in ("hv01", "hv02") if bench.hosts[node].calls["checkpoint_remove"]]
    assert len(removed) == 1


def test_a_pre_script_on_the_member_hosts_needs_the_inventory_first(bench):
    # Which hosts are members is only known from an inventory, so with a pre-script (and no host named) the
    # inventory runs before the lease, the script next, and the checkpoint call inventories again.
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    bench.world.hosts["hv01"].write_file(bench.world, "C:\\scripts\\pre.cmd", b"echo pre\r\n")
    options = app(pre_script={"path": "C:\\scripts\\pre.cmd"})
    result = bench.run("hvclus01", "prod", options)
    steps = [t["step"] for t in result["timings"]["steps"]]
    assert steps[:7] == ["catalog", "method", "inventory", "map", "validate", "lease", "pre_script"]
    assert steps[7:10] == ["checkpoint", "map", "validate"]
    assert [r["host"] for r in result["scripts"]["pre_script"]] == ["hv01"]
    assert bench.hosts["hv01"].calls["vm_inventory"] == 1 and bench.hosts["hv01"].calls["backup_checkpoint"] == 1
    assert bench.hosts["hv02"].calls["run_script"] == 0
    # A fault of that first inventory changes and records nothing.
    bench.faults.fail("vm_inventory", nth=bench.faults.counts["vm_inventory"] + 1)
    with pytest.raises(SmhvError) as failed:
        bench.run("hvclus01", "prod", options)
    assert failed.value.details["step"] == "inventory" and failed.value.details["undo"] is None
    assert [s.status for s in bench.catalog("hvclus01").list_backups(dataset="prod")] == ["ok"]


def test_the_agents_policy_must_be_the_controllers(bench, monkeypatch):
    from smhv_lab.hyperv import backup_ops
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    monkeypatch.setattr(backup_ops, "backup_outcome", lambda record, allow: "offline")
    with pytest.raises(SmhvError) as differ:
        bench.run("hvclus01", "prod", app())
    assert differ.value.code == "HOST_PROTOCOL_ERROR" and differ.value.details["step"] == "validate"
    assert bench.checkpoints() == {}


def test_a_migrating_vm_fails_alone(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    bench.vm("vm-app02").migration = "live"
    result = bench.run("hvclus01", "prod", app())
    skipped = [vm for vm in result["vms"] if vm["outcome"] == "skipped"]
    assert [vm["name"] for vm in skipped] == ["vm-app02"] and "live migration" in skipped[0]["reason"]
    assert any("vm-app02" in warning for warning in result["warnings"])
    assert result["backup"]["status"] == "ok" and len(result["vms"]) == 6


def test_vss_provider_method_on_the_standalone_host(bench):
    bench.dataset("hv03", "files", ["vm-file01", "vm-sql01"])
    write_guest_data(bench.world, bench.vm("vm-sql01").id, DB, "sql-page", in_flight=True)
    result = bench.run("hv03", "files", app())  # auto: hv03 has SnapDrive's provider
    name = result["backup"]["name"]
    assert result["backup"]["method"] == "vss_provider"
    assert bench.snapshots("vol_hv03") == [name, name + "_backup"] and bench.snapshots("vol_hv03_sql") == [name, name + "_backup"]
    assert guest_file_in_snapshot(bench, "vm-sql01", name, "vol_hv03_sql") == {"data": "sql-page", "complete": True}
    forced = bench.run("hv03", "files", app(method="checkpoint"))
    assert forced["backup"]["method"] == "checkpoint" and bench.snapshots("vol_hv03")[-1] == forced["backup"]["name"]


def test_vss_provider_refused_where_there_is_no_provider(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    with pytest.raises(SmhvError) as error:
        bench.run("hvclus01", "prod", app(method="vss_provider"))
    assert error.value.code == "INVALID_ARGUMENT" and error.value.details["step"] == "method"


def test_check_mode_plans_and_changes_nothing(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    result = bench.run("hvclus01", "prod", app(update_snapmirror=True), check_mode=True)
    assert result["changed"] is True and result["backup"]["status"] == "planned"
    assert result["actions"][0] == "take the lease of hvclus01"
    assert any(a.startswith("create production checkpoint smhv_prod_") and a.endswith("on hv01") for a in result["actions"])
    assert bench.snapshots("vol_csv1") == [] and bench.checkpoints() == {} and bench.catalog("hvclus01").list_backups() == []
    assert bench.hosts["hv01"].calls["checkpoint_create"] == 0


def test_retention_keeps_the_newest_and_retries_busy_snapshots(bench):
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    keep2 = app(retention={"tag": "daily", "count": 2})
    names = [bench.run("hvclus01", "prod", keep2)["backup"]["name"] for _run in range(2)]
    # A LUN clone of the oldest backup (a mounted backup) keeps its snapshot busy.
    cluster = bench.world.clusters["cluster-a"]
    clone = cluster.clone_lun("/vol/vol_csv1/.snapshot/%s/csv1" % names[0], "/vol/vol_csv1/mounted")
    third = bench.run("hvclus01", "prod", keep2)
    assert third["retention"]["skipped_busy"] == [names[0]] and third["retention"]["deleted"] == []
    assert any("%s is due for deletion but was kept" % names[0] in w for w in third["warnings"])
    assert names[0] in bench.snapshots("vol_csv1")
    cluster.delete_lun(clone, allow_mapped=True)  # unmounted: the next backup retries it
    fourth = bench.run("hvclus01", "prod", keep2)
    assert fourth["retention"]["deleted"] == [names[0], names[1]]
    left = [s.name for s in bench.catalog("hvclus01").list_backups(dataset="prod")]
    assert left == bench.snapshots("vol_csv1") == [third["backup"]["name"], fourth["backup"]["name"]]


def test_retention_never_deletes_the_last_good_backup_nor_other_tags(bench):
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    weekly = bench.run("hvclus01", "prod", app(retention={"tag": "weekly", "count": 1}))["backup"]["name"]
    bench.clock.tick(40 * 86400)
    hourly = bench.run("hvclus01", "prod", app(retention={"tag": "hourly", "age": "1h"}))
    assert hourly["retention"]["deleted"] == [] and weekly in bench.snapshots("vol_csv1")
    bench.clock.tick(7200)
    again = bench.run("hvclus01", "prod", app(retention={"tag": "hourly", "age": "1h"}))
    assert again["retention"]["deleted"] == [hourly["backup"]["name"]] and weekly in bench.snapshots("vol_csv1")


def test_snapmirror_update_reaches_the_destination(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    result = bench.run("hvclus01", "prod", app(update_snapmirror=True))
    name = result["backup"]["name"]
    assert sorted(r["destination"] for r in result["replication"]) == ["svm_dr:vol_csv1_dr", "svm_dr:vol_csv2_dr"]
    assert {r["state"] for r in result["replication"]} == {"success"}
    assert name in bench.snapshots("vol_csv1_dr", cluster="cluster-b")


def test_scripts_get_smhv_variables(bench):
    bench.dataset("hv03", "files", ["vm-file01"])
    host = bench.world.hosts["hv03"]
    host.write_file(bench.world, "C:\\scripts\\post.cmd", b"write C:\\out\\post.txt %VMSnapshot%|%SnapInfoName%|%1|%SnapInfoSnapshot%\r\n")
    host.write_file(bench.world, "C:\\scripts\\pre.cmd", b"echo pre %1\r\n")
    result = bench.run("hv03", "files", app(pre_script={"path": "C:\\scripts\\pre.cmd", "arguments": ["$VMSnapshot"]},
                                            post_script={"path": "C:\\scripts\\post.cmd", "arguments": ["$SnapInfoSnapshot"]}))
    name = result["backup"]["name"]
    stamp = name[len("files_"):]
    snapinfo = "smhv_snapinfo_hv03_" + stamp
    assert host.read_file(bench.world, "C:\\out\\post.txt").decode() == "%s|%s|%s|%s" % (name, stamp, snapinfo, snapinfo)
    assert result["scripts"]["pre_script"][0]["stdout"] == "pre " + name
    assert result["backup"]["snapinfo_snapshot"] == snapinfo


def test_a_failing_pre_script_fails_before_anything_is_taken(bench):
    bench.dataset("hv03", "files", ["vm-file01"])
    bench.world.hosts["hv03"].write_file(bench.world, "C:\\scripts\\pre.cmd", b"error quiesce failed\r\nexit 5\r\n")
    with pytest.raises(SmhvError) as error:
        bench.run("hv03", "files", app(pre_script={"path": "C:\\scripts\\pre.cmd"}))
    assert error.value.code == "SCRIPT_FAILED" and error.value.details["step"] == "pre_script"
    assert "exit code 5 on hv03" in error.value.message and "quiesce failed" in error.value.message
    (attempt,) = bench.catalog("hv03").list_backups(dataset="files")
    assert attempt.status == "failed" and bench.snapshots("vol_hv03") == []


# -- the lease -------------------------------------------------------------------------------------

def test_one_backup_per_scope_with_the_holder_named(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    bench.catalog("hvclus01").acquire_lease("hvclus01", "restore of vm-db01 from ctl02 (pid 7)", datetime.timedelta(minutes=10))
    with pytest.raises(SmhvError) as busy:
        bench.run("hvclus01", "prod", app())
    assert busy.value.code == "SCOPE_BUSY" and busy.value.details["step"] == "lease"
    assert "restore of vm-db01 from ctl02 (pid 7)" in busy.value.message
    assert bench.snapshots("vol_csv1") == [] and bench.catalog("hvclus01").list_backups() == []


def test_lease_wait_and_expiry(bench):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    bench.catalog("hvclus01").acquire_lease("hvclus01", "crashed run", datetime.timedelta(minutes=5))
    with pytest.raises(SmhvError) as busy:
        bench.run("hvclus01", "prod", app(), lease_wait=60)
    assert busy.value.code == "SCOPE_BUSY" and "did not release it within 60 s" in busy.value.message
    # The crashed run's lease expires: a waiting backup takes it over.
    result = bench.run("hvclus01", "prod", app(), lease_wait=600, lease_poll=30)
    assert result["backup"]["status"] == "ok"


# -- every step's failure is undone ---------------------------------------------------------------

# (step, fault target, name, kind) for the checkpoint method on the cluster, then vss on hv03.
CHECKPOINT_FAULTS = [
    ("catalog", "file_read", "error"),
    ("lease", "lease_write", "error"),
    ("checkpoint", "backup_checkpoint", "error"),
    ("checkpoint", "backup_checkpoint", "drop"),  # checkpoints made, the answer lost
    ("map", "find_luns_by_serials", "error"),  # checkpoints made
    ("validate", "get_volumes", "read_only"),  # a rule fails with the checkpoints made
    ("validate", "get_volumes", "budget"),
    ("snapshot", "create_snapshots", "error"),
    ("snapshot", "create_snapshots:volume", "error"),
    ("release_checkpoints", "checkpoint_remove", "error"),
    ("record", "file_write", "error"),
    ("retention", "delete_snapshot", "unlisted"),
]
# Replication, post-script and SnapInfo snapshot failures come after the commit point: the backup is kept, with a
# warning (test_durability.py).


class RepositoryFaults:
    """Make the catalog's repository fail on the Nth write of a backup record (the record step) or of the lease,
    or on the Nth read."""

    def __init__(self, catalog, faults):
        repository = catalog.repository
        write, read = repository.write, repository.read

        def faulty_write(path, text, expected_sha256=None, create_only=False, fence=None):
            if "/backups/" in path:
                faults.check("file_write")
            if "/leases/" in path:
                faults.check("lease_write")
            return write(path, text, expected_sha256, create_only, fence)

        def faulty_read(paths):
            faults.check("file_read")
            return read(paths)
        repository.write, repository.read = faulty_write, faulty_read


class VolumeFaults:
    """get_volumes answers a volume as a SnapMirror destination, or with no room for one more snapshot."""

    def __init__(self, bench, kind):
        original = bench.storage.get_volumes

        def get_volumes(cluster, uuids):
            volumes = original(cluster, uuids)
            if kind == "read_only":
                return [dataclasses.replace(v, type="dp") for v in volumes]
            return [dataclasses.replace(v, snapshot_count=bench.storage.snapshot_limit(v)) for v in volumes]
        bench.storage.get_volumes = get_volumes


def _assert_nothing_left(bench, scope, dataset, volumes, name):
    assert bench.checkpoints() == {}
    for volume in volumes:
        assert not any(s.startswith(name) for s in bench.snapshots(volume)), bench.snapshots(volume)
    catalog = bench.catalog(scope)
    statuses = [(s.name, s.status) for s in catalog.list_backups(dataset=dataset)]
    assert (name, "ok") not in statuses
    catalog.release_lease(catalog.acquire_lease(scope, "probe", datetime.timedelta(minutes=1)))  # free


@pytest.mark.parametrize("step,target,kind", CHECKPOINT_FAULTS, ids=["%s-%s-%s" % f for f in CHECKPOINT_FAULTS])
def test_fault_at_each_step_is_undone_and_the_next_backup_succeeds(bench, step, target, kind):
    bench.dataset("hvclus01", "prod", CLUSTER_VMS)
    for node in ("hv01", "hv02"):  # scripts run on every member host
        bench.world.hosts[node].write_file(bench.world, "C:\\scripts\\post.cmd", b"echo ok\r\n")
    options = app(update_snapmirror=True, retention={"tag": "daily", "count": 1}, post_script={"path": "C:\\scripts\\post.cmd"})
    if step == "retention":
        first = bench.run("hvclus01", "prod", options)["backup"]["name"]
        bench.faults.fail("delete_snapshot", nth=bench.faults.counts["delete_snapshot"] + 1, times=2)  # both volumes
    RepositoryFaults(bench.catalog("hvclus01"), bench.faults)
    if kind in ("read_only", "budget"):
        VolumeFaults(bench, kind)
    elif target not in ("delete_snapshot",):
        bench.faults.fail(target, nth=bench.faults.counts[target] + 1, kind=kind)
    if step == "retention":
        # A snapshot that cannot be deleted keeps its backup for the next run: a warning, not a failure.
        result = bench.run("hvclus01", "prod", options)
        assert result["retention"]["failed"] == [first] and first in bench.snapshots("vol_csv1")
        assert first in bench.run("hvclus01", "prod", options)["retention"]["deleted"] and first not in bench.snapshots("vol_csv1")
        return
    with pytest.raises(SmhvError) as failed:
        bench.run("hvclus01", "prod", options)
    error = failed.value
    assert error.details["step"] == step and ("at step %s:" % step) in error.message
    name = error.details["backup"]
    if kind == "read_only":
        assert error.code == "VOLUME_READ_ONLY"
    if kind == "budget":
        assert error.code == "SNAPSHOT_BUDGET_EXCEEDED"
    if step in ("checkpoint", "map", "validate"):  # the checkpoint call ran: its checkpoints were removed
        assert "removed checkpoint %s" % ("smhv_" + name) in error.details["undo"]["undone"], error.details["undo"]
    bench.storage.__dict__.pop("get_volumes", None)
    _assert_nothing_left(bench, "hvclus01", "prod", ["vol_csv1", "vol_csv2"], name)
    after_lease = step not in ("catalog", "lease")
    attempts = [s.status for s in bench.catalog("hvclus01").list_backups(dataset="prod") if s.name == name]
    assert attempts == (["failed"] if after_lease else [])
    if after_lease:
        assert error.details["undo"]["left_behind"] == [] and "released the lease of hvclus01" in error.details["undo"]["undone"]
    bench.faults.rules.clear()
    assert bench.run("hvclus01", "prod", options)["backup"]["status"] == "ok"
    assert bench.checkpoints() == {}


@pytest.mark.parametrize("target,kind", [("vss_backup", "error"), ("vss_backup", "drop"), ("rename_snapshot", "error")])
def test_vss_faults_are_undone(bench, target, kind):
    bench.dataset("hv03", "files", ["vm-file01", "vm-sql01"])
    bench.faults.fail(target, kind=kind, nth=2 if target == "rename_snapshot" else 1)
    with pytest.raises(SmhvError) as failed:
        bench.run("hv03", "files", app())
    assert failed.value.details["step"] == "snapshot"
    assert bench.snapshots("vol_hv03") == [] and bench.snapshots("vol_hv03_sql") == [], failed.value.details["undo"]
    bench.faults.rules.clear()
    assert bench.run("hv03", "files", app())["backup"]["method"] == "vss_provider"


def test_a_lost_lease_stops_the_backup(bench):
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    engine = bench.engine("hvclus01", lease_ttl=datetime.timedelta(seconds=10))
    original = engine._pre_script

    def slow_and_overtaken():
        original()
        bench.clock.tick(60)  # the lease expired; another controller takes the scope
        bench.catalog("hvclus01").acquire_lease("hvclus01", "other controller", datetime.timedelta(minutes=5))
    engine._pre_script = slow_and_overtaken
    bench.clock.tick()
    with pytest.raises(SmhvError) as lost:
        engine.run("prod", app())
    assert lost.value.code == "LEASE_LOST" and "other controller" in lost.value.message
    assert bench.checkpoints() == {} and bench.snapshots("vol_csv1") == []
    with pytest.raises(SmhvError) as busy:  # the other holder's lease was not released by us
        bench.catalog("hvclus01").acquire_lease("hvclus01", "probe", datetime.timedelta(minutes=1))
    assert busy.value.code == "SCOPE_BUSY"


def test_engine_is_importable_without_lab():
    assert BackupEngine.__doc__


def test_catalog_reads_done_during_the_snapshot_are_redone_if_they_failed(bench):
    # The listing and the expired records are read in the background while ONTAP takes the snapshot; a
    # failure there is not the backup's: the record step reads again, and its own failure would be its own.
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    keep1 = app(retention={"tag": "daily", "count": 1})
    first = bench.run("hvclus01", "prod", keep1)["backup"]["name"]
    repository = bench.catalog("hvclus01").repository
    original, lists = repository.list, []

    def list_failing_once(directory, *args, **kwargs):
        lists.append(directory)
        if len(lists) == 1:
            raise SmhvError("HOST_UNREACHABLE", "Injected: the listing's connection dropped.")
        return original(directory, *args, **kwargs)
    repository.list = list_failing_once
    second = bench.run("hvclus01", "prod", keep1)
    assert len(lists) == 2 and second["retention"]["deleted"] == [first] and second["backup"]["status"] == "ok"
    assert bench.snapshots("vol_csv1") == [second["backup"]["name"]]


@pytest.mark.parametrize("fails", [False, True])
def test_the_snapinfo_step_reads_ahead_during_the_snapshot(bench, fails):
    bench.dataset("hvclus01", "prod", ["vm-web01"])
    step, prepared = bench.snapinfo_step("hvclus01"), []

    def prepare():
        prepared.append(bench.snapshots("vol_csv1"))
        if fails:
            raise SmhvError("HOST_UNREACHABLE", "Injected: the SnapInfo path could not be looked up ahead.")
    step.prepare = prepare
    bench.clock.tick()
    engine = BackupEngine(bench.scope("hvclus01"), bench.storage, bench.catalog("hvclus01"), step, clock=bench.clock)
    result = engine.run("prod", app())
    assert result["backup"]["status"] == "ok" and result["backup"]["snapinfo_snapshot"] == bench.snapinfo_taken[-1]
    assert len(prepared) == 1


def test_a_backup_in_the_second_of_the_last_one_takes_the_next_second(bench):
    """Names carry the second: a run right after another (a retry after a fast failure) must not take its name."""
    bench.dataset("hvclus01", "fast", ["vm-web01"])
    first = bench.run("hvclus01", "fast", crash())
    started = bench.clock()
    second = bench.engine("hvclus01").run("fast", crash())  # the same second on the fake clock (no tick)
    names = [summary.name for summary in bench.catalog("hvclus01").list_backups(dataset="fast")]
    assert names == [first["backup"]["name"], second["backup"]["name"]] and names[0] != names[1]
    assert bench.clock() - started == datetime.timedelta(seconds=1)  # the second run waited for the next second
