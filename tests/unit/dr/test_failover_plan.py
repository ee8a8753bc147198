"""The pure part of smhv_failover's plan (engines/dr/plan.py): where a backed-up file's LUN was, the recovery point, which
destination LUN stands for which source LUN, start groups; and which storage systems an unplanned failover may talk to."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr import plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.site import dr_systems
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import LunRef
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules import paths

VM1, VM2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
SOURCE, DESTINATION = "cluster-a:svm_hv:vol_hv03", "cluster-b:svm_dr:vol_hv03_dr"


def backup(name, vms=(VM1, VM2), serials=None):
    serials = serials or {VM1: "serial-j", VM2: "serial-k"}
    roots = {"serial-j": "J:\\", "serial-k": "K:\\"}
    made = []
    for vm_id in vms:
        root = roots[serials[vm_id]]
        files = (BackupFile("%svm-%s\\vm.vmcx" % (root, vm_id[0]), "config", serials[vm_id], "cluster-a", "svm_hv", "vol_hv03", (name,)),
                 BackupFile("%svm-%s\\disk.vhdx" % (root, vm_id[0]), "vhd", serials[vm_id], "cluster-a", "svm_hv", "vol_hv03", (name,)))
        made.append(BackupVm(vm_id, "vm-%s" % vm_id[0], "hv03", "online", files=files))
    return BackupRecord(name, "dr", None, "unlimited", "application", "checkpoint", datetime.datetime(2026, 3, 14, tzinfo=datetime.timezone.utc),
                        "hv03", "ok", vms=tuple(made))


def lun(path):
    return LunRef("cluster-b", "svm_dr", "vol_hv03_dr", "v", "u-" + path, path, "dest-" + path.rsplit("/", 1)[-1], 1, "hyper_v")


@pytest.mark.parametrize("path, root", [
    ("J:\\vm1\\disk.vhdx", "J:\\"), ("k:\\x", "K:\\"), ("C:\\ClusterStorage\\Volume1\\vm\\a.vhdx", "C:\\ClusterStorage\\Volume1\\"),
    ("C:\\VMs\\vm\\a.vhdx", None), ("\\\\fs\\share\\a.vhdx", None)])
def test_volume_root(path, root):
    assert plan.volume_root(path) == root


def test_path_map_prefers_the_longest_prefix():
    pairs = paths.path_pairs({"C:\\ClusterStorage": "M:", "C:\\ClusterStorage\\Volume2": "N:"})
    assert paths.mapped("C:\\ClusterStorage\\Volume2\\vm\\a.vhdx", pairs) == "N:\\vm\\a.vhdx"
    assert paths.mapped("c:\\clusterstorage\\Volume1\\a.vhdx", pairs) == "M:\\Volume1\\a.vhdx"
    assert paths.mapped("J:\\a", pairs) == "J:\\a"


def test_the_newest_backup_whose_snapshots_reached_the_destination_is_the_recovery_point():
    newest, older = backup("dr_03-14-2026_10.00.00"), backup("dr_03-14-2026_09.00.00")
    snapshots = {DESTINATION: {"dr_03-14-2026_09.00.00"}}
    record, volumes, skipped = plan.choose_recovery_point([newest, older], {VM1, VM2}, {SOURCE: DESTINATION}, snapshots.get)
    assert record is older and volumes == {SOURCE: (DESTINATION, older.name)}
    assert skipped == [{"backup": newest.name, "reason": "snapshot %s is not on destination volume %s (not replicated)" % (newest.name, DESTINATION)}]


def test_a_backup_without_every_chosen_vm_is_skipped():
    newest, older = backup("dr_03-14-2026_10.00.00", vms=(VM1,)), backup("dr_03-14-2026_09.00.00")
    snapshots = {DESTINATION: {newest.name, older.name}}
    record, _volumes, skipped = plan.choose_recovery_point([newest, older], {VM1, VM2}, {SOURCE: DESTINATION}, snapshots.get)
    assert record is older and "does not hold VM(s) %s" % VM2 in skipped[0]["reason"]
    record, _volumes, skipped = plan.choose_recovery_point([newest, older], {VM1}, {SOURCE: DESTINATION}, snapshots.get)
    assert record is newest and skipped == []


def test_a_named_backup_is_taken_or_refused_with_why():
    newest, older = backup("dr_03-14-2026_10.00.00"), backup("dr_03-14-2026_09.00.00")
    snapshots = {DESTINATION: {newest.name, older.name}}
    record, _volumes, _skipped = plan.choose_recovery_point([newest, older], {VM1}, {SOURCE: DESTINATION}, snapshots.get, named=older.name)
    assert record is older
    with pytest.raises(SmhvError) as error:
        plan.choose_recovery_point([newest, older], {VM1}, {}, snapshots.get, named=older.name)
    assert error.value.code == "SNAPSHOT_NOT_FOUND" and "no SnapMirror destination" in error.value.message


def test_no_recovery_point_says_what_to_do():
    with pytest.raises(SmhvError) as error:
        plan.choose_recovery_point([backup("dr_03-14-2026_10.00.00")], {VM1}, {SOURCE: DESTINATION}, lambda d: set())
    assert error.value.code == "SNAPSHOT_NOT_FOUND" and "Update the SnapMirror relationships" in error.value.message
    assert error.value.details["skipped"][0]["backup"] == "dr_03-14-2026_10.00.00"


def test_source_luns_take_every_vm_of_the_backup():
    luns = plan.source_luns(backup("dr_03-14-2026_10.00.00"))
    assert luns == {"serial-j": {"volume": SOURCE, "roots": {"J:\\"}, "vms": {VM1}}, "serial-k": {"volume": SOURCE, "roots": {"K:\\"}, "vms": {VM2}}}


def test_one_lun_each_side_pairs_up_and_several_need_the_hints():
    sources = plan.source_luns(backup("dr_03-14-2026_10.00.00"))
    only_j = {"serial-j": sources["serial-j"]}
    assert plan.match_luns(only_j, [lun("/vol/vol_hv03_dr/lun_j")], {}) == {"serial-j": lun("/vol/vol_hv03_dr/lun_j")}
    both = [lun("/vol/vol_hv03_dr/lun_j"), lun("/vol/vol_hv03_dr/lun_k")]
    with pytest.raises(SmhvError) as error:
        plan.match_luns(sources, both, {})
    assert error.value.code == "INVALID_ARGUMENT" and "`luns`" in error.value.message and error.value.details["access_paths"] == ["J:\\", "K:\\"]
    hints = {"/vol/vol_hv03_dr/lun_j": "J:\\", "/vol/vol_hv03_dr/lun_k": "K:\\"}
    assert plan.match_luns(sources, both, hints) == {"serial-j": both[0], "serial-k": both[1]}


def test_start_groups_in_order_then_the_rest():
    groups = plan.start_groups(["vm-a", "vm-b", "vm-c"], [{"vms": ["VM-C"], "wait_seconds": 30}, {"vms": ["vm-a"]}])
    assert groups == [(["vm-c"], 30), (["vm-a"], 0), (["vm-b"], 0)]
    with pytest.raises(SmhvError) as error:
        plan.start_groups(["vm-a"], [{"vms": ["vm-x"]}])
    assert error.value.code == "INVALID_ARGUMENT"


SYSTEMS = [{"hostname": "cluster-a.lab", "port": 443}, {"hostname": "cluster-b.lab", "port": 8443}]


def test_unplanned_failover_talks_to_the_named_dr_systems_only():
    assert dr_systems(SYSTEMS, ["cluster-b.lab:8443"], True) == [SYSTEMS[1]]
    assert dr_systems(SYSTEMS, ["CLUSTER-B.lab"], True) == [SYSTEMS[1]]
    assert dr_systems(SYSTEMS[1:], None, True) == SYSTEMS[1:]
    for names in (None, ["cluster-c.lab"]):
        with pytest.raises(SmhvError) as error:
            dr_systems(SYSTEMS, names, True)
        assert error.value.code == "INVALID_ARGUMENT" and "dr_storage_systems" in error.value.message


@pytest.mark.parametrize("lag, seconds", [("PT1H2M3S", 3723), ("P1DT1S", 86401), ("PT45S", 45), ("", None), (None, None), ("1h", None)])
def test_lag_time_in_seconds(lag, seconds):
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.readiness import lag_seconds
    assert lag_seconds(lag) == seconds
