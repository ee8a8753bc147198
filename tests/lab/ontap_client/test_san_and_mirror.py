"""LUN clones, igroups and maps, SnapMirror, and injected faults, over HTTPS against the lab."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


def test_lun_clone_from_snapshot_mapped_unmapped_and_deleted(site):
    client = site.client("cluster-a")
    lun = client.find_lun_by_serial(site.serial("/vol/vol1/lun1"))
    snapshot = client.create_snapshot(client.get_volume("cluster-a", "svm1", "vol1"), "mount_me")
    with site.world.lock:
        site.cluster().lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"newer")
    clone = client.san.clone_lun(snapshot, lun, "lun1_mount")
    assert clone.path == "/vol/vol1/lun1_mount" and clone.serial != lun.serial and clone.size == lun.size
    model = site.cluster().lun("/vol/vol1/lun1_mount")
    assert model.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"

    igroup = client.san.ensure_igroup("cluster-a", "svm1", "smhv_hv-host1", [site.iqn["hv-host1"]])
    assert (igroup.name, igroup.created) == ("hv-host1", False)  # the hand-made igroup holding the IQN
    mapping = client.san.map_lun(clone, igroup)
    assert mapping.created and mapping.lun_id == 1  # lun1 already has id 0 in this igroup
    assert client.san.map_lun(clone, igroup) == mapping.__class__(clone, igroup, 1, created=False)
    assert [(lun_.path, lun_id) for lun_, lun_id in site.cluster().luns_visible_to(site.iqn["hv-host1"])] == [
        ("/vol/vol1/lun1", 0), ("/vol/vol1/lun1_mount", 1)]
    assert client.san.unmap_lun(clone, igroup) and not client.san.unmap_lun(clone, igroup)
    client.san.delete_lun(clone)
    assert client.delete_snapshots([snapshot]).complete  # the clone no longer holds it


def test_ensure_igroup_creates_then_reuses(site):
    client = site.client("cluster-a")
    created = client.san.ensure_igroup("cluster-a", "svm1", "smhv_hv-host2", [site.iqn["hv-host2"]])
    again = client.san.ensure_igroup("cluster-a", "svm1", "smhv_hv-host2", [site.iqn["hv-host2"]])
    assert created.created and not again.created and again.uuid == created.uuid
    assert site.cluster().igroup("smhv_hv-host2").initiators == [site.iqn["hv-host2"]]


def test_mirror_update_quiesce_break_resync_and_reverse(site):
    client = site.client()
    [mirror] = client.snapmirror.find(source_path="svm1:vol1")
    assert (mirror.cluster, mirror.source_cluster, mirror.destination_path, mirror.state) == (
        "cluster-b", "cluster-a", "svm_dr:vol1_dr", "snapmirrored")
    assert client.snapmirror.find(destination_path=["svm_dr:vol1_dr", "svm_dr:other"]) == [mirror]

    source = client.get_volume("cluster-a", "svm1", "vol1")
    client.create_snapshot(source, "ds_daily", snapmirror_label="daily")
    result = client.snapmirror.update(mirror)
    assert result.state == "success" and result.changed and result.transfer_uuid
    assert site.cluster("cluster-b").volume("vol1_dr").has_snapshot("ds_daily")

    mirror = client.snapmirror.get(mirror)
    unchanged = client.snapmirror.update(mirror, source_snapshot=mirror.exported_snapshot)
    assert unchanged.state == "unchanged" and not unchanged.changed

    assert client.snapmirror.quiesce(mirror).state == "paused"
    broken = client.snapmirror.break_off(mirror)
    assert broken.state == "broken_off" and site.cluster("cluster-b").volume("vol1_dr").type == "rw"
    assert client.snapmirror.resync(broken).state == "snapmirrored"

    client.snapmirror.quiesce(mirror)
    client.snapmirror.break_off(mirror)
    reversed_ = client.snapmirror.reverse_resync(mirror)
    assert (reversed_.cluster, reversed_.source_path, reversed_.destination_path, reversed_.state) == (
        "cluster-a", "svm_dr:vol1_dr", "svm1:vol1", "snapmirrored")


def test_failover_lookup_works_with_the_primary_down(site):
    client = site.client("cluster-a", "cluster-b", timeout=2)
    site.servers["cluster-a"].stop()
    [mirror] = client.snapmirror.find(destination_path="svm_dr:vol1_dr")
    assert client.snapmirror.quiesce(mirror).state == "paused"
    assert client.snapmirror.break_off(mirror, force=True).state == "broken_off"


def test_injected_http_error_keeps_ontap_code_and_message(site):
    site.faults.add("ontap", "http_error", match={"method": "POST", "path": ".*/snapshots"},
                    params={"status": 400, "code": 524486, "message": "Volume is busy."})
    client = site.client("cluster-a")
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(client.get_volume("cluster-a", "svm1", "vol2"), "s1")
    error = caught.value
    assert error.code == "STORAGE_ERROR" and error.details["ontap_code"] == 524486
    assert "Volume is busy" in error.message and "cluster-a" in error.message


def test_injected_job_failure_reports_job_and_code(site):
    site.faults.add("ontap", "job_failure", match={"method": "DELETE"},
                    params={"code": 1638555, "message": "Snapshot is locked."})
    client = site.client("cluster-a")
    snapshot = client.create_snapshot(client.get_volume("cluster-a", "svm1", "vol2"), "s1")
    with pytest.raises(SmhvError) as caught:
        client.delete_snapshot(snapshot)
    error = caught.value
    assert error.code == "SNAPSHOT_BUSY" and error.details["job_uuid"] in error.message
    assert error.details["job_uuid"] in site.cluster().jobs


def test_dropped_connection_on_a_create_is_unreachable(site):
    site.faults.add("ontap", "drop", match={"method": "POST"})
    client = site.client("cluster-a")
    volume = client.get_volume("cluster-a", "svm1", "vol2")
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(volume, "s1")
    assert caught.value.code == "STORAGE_UNREACHABLE"


def test_slow_job_times_out_naming_the_job(site):
    site.cluster().job_polls = 1000
    client = site.client("cluster-a", timeout=1)
    volume = client.get_volume("cluster-a", "svm1", "vol2")
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(volume, "slow")
    error = caught.value
    assert error.code == "STORAGE_JOB_TIMEOUT" and error.details["job_uuid"] in error.message


def test_wrong_password_and_untrusted_certificate(site):
    with pytest.raises(SmhvError) as caught:
        site.client("cluster-a", password="wrong").clusters()
    assert caught.value.code == "STORAGE_AUTH_FAILED"
    with pytest.raises(SmhvError) as caught:
        site.client("cluster-a", ca_path=None).clusters()  # the system bundle does not know the lab CA
    assert caught.value.code == "STORAGE_TLS_ERROR"
