"""Consistency groups and their snapshots (9.10.1+), file clone, and the CLI restore passthroughs."""
from __future__ import annotations

import pytest
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import CLI, ConsistencyGroup, ConsistencyGroupSnapshot, FileClone, Volume


@pytest.fixture
def cg(conn):
    group = ConsistencyGroup(name="cg1", svm={"name": "svm1"},
                             volumes=[{"name": "vol1", "provisioning_options": {"action": "add"}},
                                      {"name": "vol2", "provisioning_options": {"action": "add"}}])
    group.post(hydrate=True)
    return group


def test_cg_snapshot_lands_in_every_volume_at_once(cg, ontap_lab):
    assert sorted(v.name for v in cg.volumes) == ["vol1", "vol2"]
    snap = ConsistencyGroupSnapshot(cg.uuid, name="cg-snap", comment="c", snapmirror_label="hourly")
    snap.post(hydrate=True)
    assert snap.consistency_type == "crash" and snap.consistency_group.name == "cg1"
    cluster = ontap_lab.cluster()
    members = [cluster.volume(v).snapshot("cg-snap") for v in ("vol1", "vol2")]
    assert members[0].create_time == members[1].create_time and members[0].snapmirror_label == "hourly"
    with pytest.raises(NetAppRestError, match="already exists"):
        ConsistencyGroupSnapshot(cg.uuid, name="cg-snap").post()
    assert [j.code for j in cluster.jobs.values() if j.state == "failure"] == [53411921]
    snap.delete()
    assert not any(cluster.volume(v).snapshots for v in ("vol1", "vol2"))


def test_cg_restore_brings_every_volume_back(cg, ontap_lab):
    cluster = ontap_lab.cluster()
    ConsistencyGroupSnapshot(cg.uuid, name="good").post()
    cluster.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"bad")
    cluster.lun("/vol/vol2/lun3").content.files.write("vm2.vhdx", b"bad")
    ConsistencyGroupSnapshot(cg.uuid, name="later").post()
    cg.restore_to = {"snapshot": {"name": "good"}}
    cg.patch()
    assert cluster.lun("/vol/vol1/lun1").content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert cluster.lun("/vol/vol2/lun3").content.files.read("vm2.vhdx") == b"vm2"
    assert [s.name for s in ConsistencyGroupSnapshot.get_collection(cg.uuid)] == ["good"]


def test_cg_api_needs_9_10_1(conn, ontap_lab):
    ontap_lab.cluster().version = "9.9.1"
    with pytest.raises(NetAppRestError) as err:
        list(ConsistencyGroup.get_collection())
    assert err.value.status_code == 404


def test_file_clone_from_snapshot_path(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    cluster.create_snapshot("vol1", "s1")
    cluster.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"later")
    vol = Volume.find(name="vol1")
    FileClone(volume={"name": "vol1", "uuid": vol.uuid}, source_path=".snapshot/s1/lun1",
              destination_path="lun1_copy").post()
    copy = cluster.lun("/vol/vol1/lun1_copy")
    assert copy.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert copy.serial != cluster.lun("/vol/vol1/lun1").serial
    with pytest.raises(NetAppRestError, match="already exists"):
        FileClone(volume={"name": "vol1", "uuid": vol.uuid}, source_path=".snapshot/s1/lun1",
                  destination_path="lun1_copy").post()


def test_cli_restore_file_keeps_the_lun_identity(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    cluster.create_snapshot("vol1", "s1")
    lun = cluster.lun("/vol/vol1/lun1")
    serial = lun.serial
    lun.content.files.write("vm1\\vm1.vhdx", b"after s1")
    CLI().execute("volume snapshot restore-file",
                  body={"vserver": "svm1", "volume": "vol1", "snapshot": "s1", "path": "/vol/vol1/lun1"})
    assert lun.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1" and lun.serial == serial
    CLI().execute("volume snapshot restore-file", body={"vserver": "svm1", "volume": "vol1", "snapshot": "s1",
                                                        "path": "/lun1", "restore-path": "/vol/vol1/lun1_old"})
    assert cluster.lun("/vol/vol1/lun1_old").serial != serial
    with pytest.raises(NetAppRestError) as err:
        CLI().execute("volume snapshot restore-file",
                      body={"vserver": "svm1", "volume": "vol1", "snapshot": "nope", "path": "/lun1"})
    assert err.value.status_code == 400


def test_cli_volume_restore(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    cluster.create_snapshot("vol2", "s1")
    cluster.lun("/vol/vol2/lun3").content.files.write("vm2.vhdx", b"x")
    cluster.create_snapshot("vol2", "s2")
    CLI().execute("volume snapshot restore", body={"vserver": "svm1", "volume": "vol2", "snapshot": "s1"})
    assert cluster.lun("/vol/vol2/lun3").content.files.read("vm2.vhdx") == b"vm2"
    assert [s.name for s in cluster.volume("vol2").snapshots] == ["s1"]
