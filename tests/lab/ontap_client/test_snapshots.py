"""LUN lookup, volumes, snapshots, consistency-group snapshots and SnapRestore over HTTPS."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


def test_identities_come_from_the_clusters(site):
    client = site.client()
    by_name = {identity.name: identity for identity in client.clusters()}
    assert by_name["cluster-a"].version == (9, 13, 1) and by_name["cluster-a"].supports_cg_snapshots
    assert by_name["cluster-old"].version == (9, 8, 0) and not by_name["cluster-old"].supports_cg_snapshots
    assert client.cluster_for("cluster-b").uuid == site.cluster("cluster-b").uuid


def test_luns_found_by_serial_across_clusters_with_one_query_each(site):
    client = site.client()
    lun1, old1 = site.serial("/vol/vol1/lun1"), site.serial("/vol/old1/lun_old1", "cluster-old")
    found = client.find_luns_by_serials([lun1, old1, "NoSuchSerial"])
    assert set(found) == {lun1, old1}
    ref = found[lun1]
    model = site.cluster().lun("/vol/vol1/lun1")
    assert (ref.cluster, ref.svm, ref.volume_name, ref.path) == ("cluster-a", "svm1", "vol1", "/vol/vol1/lun1")
    assert (ref.volume_uuid, ref.lun_uuid, ref.size, ref.os_type) == (model.volume.uuid, model.uuid, 10 * 1024 ** 3,
                                                                      "hyper_v")
    assert found[old1].cluster == "cluster-old"
    # Per cluster: GET /api/cluster once, then one LUN query for all serials still missing.
    assert client.call_counts() == {"cluster-a": 2, "cluster-b": 2, "cluster-old": 2}


def test_unknown_serial_is_lun_not_found_naming_the_clusters(site):
    with pytest.raises(SmhvError) as caught:
        site.client().find_lun_by_serial("NoSuchSerial")
    assert caught.value.code == "LUN_NOT_FOUND"
    assert "cluster-a" in caught.value.message and "cluster-old" in caught.value.message


def test_volume_facts_and_snapshot_limits(site):
    client = site.client()
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    mirror = client.get_volume("cluster-b", "svm_dr", "vol1_dr")
    old = client.get_volume("cluster-old", "svm_old", "old1")
    assert (vol1.type, vol1.path, vol1.size) == ("rw", "svm1:vol1", 100 * 1024 ** 3)
    assert mirror.is_mirror_destination and mirror.snapshot_count == len(site.cluster("cluster-b").volume(
        "vol1_dr").snapshots) > 0
    assert [client.snapshot_limit(v) for v in (vol1, mirror, old)] == [1023, 1019, 1023]
    assert client.get_volumes("cluster-a", [vol1.uuid]) == [vol1]
    with pytest.raises(SmhvError) as caught:
        client.get_volume("cluster-a", "svm1", "nope")
    assert caught.value.code == "STORAGE_OBJECT_NOT_FOUND"


def test_snapshot_create_list_delete(site):
    client = site.client("cluster-a")
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    made = client.create_snapshot(vol1, "ds1_11-25-2026_10.00.00", comment="smhv backup", snapmirror_label="daily")
    client.create_snapshot(vol1, "other")
    listed = client.list_snapshots(vol1, name_pattern="ds1_*")
    assert [(s.name, s.uuid, s.snapmirror_label, s.comment) for s in listed] == [
        (made.name, made.uuid, "daily", "smhv backup")]
    assert listed[0].create_time is not None
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(vol1, made.name)
    assert caught.value.code == "SNAPSHOT_EXISTS"
    client.delete_snapshot(made)
    assert not site.cluster().volume("vol1").has_snapshot(made.name)


def test_busy_snapshot_is_reported_not_raised_by_delete_snapshots(site):
    client = site.client("cluster-a")
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    busy, free = client.create_snapshot(vol1, "busy"), client.create_snapshot(vol1, "free")
    lun = client.find_lun_by_serial(site.serial("/vol/vol1/lun1"))
    client.san.clone_lun(busy, lun, "lun1_mounted")
    with pytest.raises(SmhvError) as caught:
        client.delete_snapshot(busy)
    assert caught.value.code == "SNAPSHOT_BUSY" and caught.value.details["ontap_code"] == 1638555
    report = client.delete_snapshots([busy, free])
    assert [s.name for s in report.deleted] == ["free"]
    assert [pair[0].name for pair in report.busy] == ["busy"] and not report.complete


def test_snaprestore_brings_the_bytes_back(site):
    client = site.client("cluster-a")
    vol2 = client.get_volume("cluster-a", "svm1", "vol2")
    snapshot = client.create_snapshot(vol2, "before")
    client.create_snapshot(vol2, "after")
    with site.world.lock:
        site.cluster().lun("/vol/vol2/lun2").content.files.write("vm2\\vm2.vhdx", b"ransomware")
    client.restore_volume(snapshot)
    restored = site.cluster().volume("vol2")
    assert restored.luns["lun2"].content.files.read("vm2\\vm2.vhdx") == b"vm2 disk v1"
    assert [s.name for s in restored.snapshots] == ["before"]  # ONTAP drops the newer ones


def test_single_file_restore_through_the_cli_passthrough(site):
    client = site.client("cluster-a")
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    snapshot = client.create_snapshot(vol1, "s1")
    with site.world.lock:
        site.cluster().lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"changed")
    client.restore_file(snapshot, "/lun1", restore_path="/lun1_restored")
    volume = site.cluster().volume("vol1")
    assert volume.luns["lun1_restored"].content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert volume.luns["lun1"].content.files.read("vm1\\vm1.vhdx") == b"changed"


def test_volumes_of_a_913_svm_share_one_cg_snapshot_and_no_cg_is_left(site):
    client = site.client("cluster-a")
    volumes = [client.get_volume("cluster-a", "svm1", name) for name in ("vol1", "vol2")]
    taken = client.create_snapshots(volumes, "ds_cg", snapmirror_label="daily")
    assert taken.consistency_groups == ("cluster-a/svm1",) and not taken.notes
    model = [site.cluster().volume(name).snapshot("ds_cg") for name in ("vol1", "vol2")]
    assert model[0].create_time == model[1].create_time and model[0].snapmirror_label == "daily"
    assert site.cluster().consistency_groups == {}
    # A CG snapshot's members have no uuid yet; deleting them looks them up by name.
    assert client.delete_snapshots(taken.snapshots).complete
    assert not any(site.cluster().volume(name).has_snapshot("ds_cg") for name in ("vol1", "vol2"))


def test_an_existing_cg_with_exactly_these_volumes_is_used_and_kept(site):
    site.cluster().create_consistency_group("svm1", "app_cg", ["vol1", "vol2"])
    client = site.client("cluster-a")
    volumes = [client.get_volume("cluster-a", "svm1", name) for name in ("vol1", "vol2")]
    taken = client.create_snapshots(volumes, "ds_existing")
    group = next(iter(site.cluster().consistency_groups.values()))
    assert taken.consistency_groups == ("cluster-a/svm1",) and [s.name for s in group.snapshots] == ["ds_existing"]


def test_old_ontap_falls_back_to_one_snapshot_per_volume(site):
    client = site.client("cluster-old")
    volumes = [client.get_volume("cluster-old", "svm_old", name) for name in ("old1", "old2")]
    taken = client.create_snapshots(volumes, "ds_old")
    assert taken.consistency_groups == () and "9.8.0" in taken.notes[0]
    assert all(s.uuid for s in taken.snapshots)
    assert all(site.cluster("cluster-old").volume(name).has_snapshot("ds_old") for name in ("old1", "old2"))


def test_failed_create_rolls_back_the_snapshots_already_taken(site):
    client = site.client("cluster-a", "cluster-old")
    volumes = [client.get_volume("cluster-a", "svm1", "vol1"), client.get_volume("cluster-old", "svm_old", "old1")]
    site.cluster("cluster-old").create_snapshot("old1", "ds_clash")
    with pytest.raises(SmhvError) as caught:
        client.create_snapshots(volumes, "ds_clash")
    assert caught.value.code == "SNAPSHOT_EXISTS"
    assert caught.value.details["rollback"] == {"deleted": ["svm1:vol1"], "left_behind": []}
    assert not site.cluster().volume("vol1").has_snapshot("ds_clash")


def test_backup_cost_grows_with_volumes_not_vms(site):
    """The budget from the design: a backup costs at most 2 x volumes + 20 ONTAP calls."""
    cluster = site.cluster()
    with site.world.lock:
        for index in range(3, 9):
            cluster.create_volume("svm1", "vol%d" % index, "aggr1", 10 * 1024 ** 3)
            for disk in range(25):  # 150 more LUNs: many VMs, few volumes
                cluster.create_lun("vol%d" % index, "vm%d_disk%d" % (index, disk), 1024 ** 3)
    serials = [lun.serial for lun in cluster.luns]
    client = site.client("cluster-a")
    luns = client.find_luns_by_serials(serials)
    volumes = client.get_volumes("cluster-a", {lun.volume_uuid for lun in luns.values()})
    client.create_snapshots(volumes, "ds_big", consistency_group=False)
    assert len(volumes) == 8
    assert client.call_counts()["cluster-a"] <= 2 * len(volumes) + 20


def test_one_client_serves_many_threads(site):
    client = site.client("cluster-a")
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    errors = []

    def work(index):
        try:
            client.create_snapshot(vol1, "t%d" % index)
            assert any(s.name == "t%d" % index for s in client.list_snapshots(vol1))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(s.name for s in site.cluster().volume("vol1").snapshots if s.name.startswith("t")) == [
        "t%d" % index for index in range(8)]


def test_rename_changes_the_name_on_the_volume(site):
    client = site.client("cluster-a")
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    made = client.create_snapshot(vol1, "vss_1234_ar")
    renamed = client.rename_snapshot(made, "ds1_11-25-2026_10.00.00_backup", comment="smhv backup")
    assert renamed.name == "ds1_11-25-2026_10.00.00_backup"
    names = [snap.name for snap in site.cluster().volume("vol1").snapshots]
    assert "ds1_11-25-2026_10.00.00_backup" in names and "vss_1234_ar" not in names
    assert site.cluster().volume("vol1").snapshot("ds1_11-25-2026_10.00.00_backup").comment == "smhv backup"
