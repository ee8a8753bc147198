"""Volumes and snapshots through netapp-ontap: create, rename, resize, FlexClone and split, SnapRestore,
snapshot limits and busy rules, with the bytes inside the LUNs checked after every copy."""
from __future__ import annotations

import datetime

import pytest
from netapp_ontap import utils
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import Job, Snapshot, Volume

from smhv_lab.world.storage import SNAPSHOT_BUSY


def job_code(ontap_lab) -> int:
    """The code of the newest failed job: netapp-ontap drops it, so read the job like a careful client."""
    failed = [j for j in ontap_lab.cluster().jobs.values() if j.state == "failure"]
    job = Job(uuid=failed[-1].uuid)
    job.get()
    return job.code


def test_volume_create_learns_uuid_from_query_location(conn, ontap_lab):
    vol = Volume(name="vol3", svm={"name": "svm1"}, aggregates=[{"name": "aggr1"}], size=2 * 1024 ** 3)
    vol.post(hydrate=True)
    model = ontap_lab.cluster().volume("vol3")
    assert vol.uuid == model.uuid and vol.type == "rw" and vol.space.size == 2 * 1024 ** 3


def test_duplicate_volume_fails_its_job(conn, ontap_lab):
    with pytest.raises(NetAppRestError, match="Duplicate volume name"):
        Volume(name="vol1", svm={"name": "svm1"}, aggregates=[{"name": "aggr1"}]).post()
    assert job_code(ontap_lab) == 1


def test_rename_resize_and_delete(conn, ontap_lab):
    vol = Volume.find(name="vol2", svm={"name": "svm1"})
    vol.name, vol.size = "vol2b", 200 * 1024 ** 3
    vol.patch()
    model = ontap_lab.cluster().volume("vol2b")
    assert model.size == 200 * 1024 ** 3
    vol.delete()
    assert [v.name for v in ontap_lab.cluster().volumes.values()] == ["vol1"]


def test_snapshot_fields_and_order(conn, ontap_lab):
    vol = Volume.find(name="vol1")
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    Snapshot(vol.uuid, name="first", comment="c1", snapmirror_label="daily", expiry_time=expiry).post()
    Snapshot(vol.uuid, name="second").post()
    snaps = list(Snapshot.get_collection(vol.uuid, fields="create_time,comment,snapmirror_label,expiry_time"))
    assert [s.name for s in snaps] == ["first", "second"]
    assert snaps[0].comment == "c1" and snaps[0].snapmirror_label == "daily"
    assert snaps[0].create_time.tzinfo is not None and snaps[0].expiry_time > snaps[0].create_time
    vol.get(fields="snapshot_count")
    assert vol.snapshot_count == 2


def test_snapshot_rename_and_duplicate(conn, ontap_lab):
    vol = Volume.find(name="vol1")
    Snapshot(vol.uuid, name="a").post()
    Snapshot(vol.uuid, name="b").post()
    snap = Snapshot.find(vol.uuid, name="a")
    snap.name = "a2"
    snap.patch()
    with pytest.raises(NetAppRestError):
        Snapshot(vol.uuid, name="b").post()
    assert [s.name for s in ontap_lab.cluster().volume("vol1").snapshots] == ["a2", "b"]


def test_restore_brings_bytes_back_and_drops_newer_snapshots(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    lun = cluster.lun("/vol/vol1/lun1")
    vol = Volume.find(name="vol1")
    Snapshot(vol.uuid, name="before").post()
    lun.content.files.write("vm1\\vm1.vhdx", b"written after the snapshot")
    lun.content.files.write("new.txt", b"new")
    cluster.create_lun("vol1", "lun-late", 1024 ** 3)
    Snapshot(vol.uuid, name="after").post()
    # The Volume schema has no restore_to: patch_collection sends the raw dotted body, like the collection does.
    Volume.patch_collection({"restore_to.snapshot.name": "before"}, uuid=vol.uuid)
    restored = cluster.lun("/vol/vol1/lun1")
    assert restored is lun and restored.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert not restored.content.files.exists("new.txt")
    assert sorted(cluster.volume("vol1").luns) == ["lun1", "lun2"]
    assert [s.name for s in cluster.volume("vol1").snapshots] == ["before"]
    assert cluster.lun_maps and cluster.lun_maps[0].lun is lun  # surviving LUNs keep their maps


def test_snapshot_limit_per_persona(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    vol = cluster.volume("vol1")
    for i in range(1023):
        cluster.create_snapshot("vol1", f"s{i}")
    with pytest.raises(NetAppRestError, match=r"maximum number of Snapshot copies \(1023\)"):
        Snapshot(vol.uuid, name="one-too-many").post()
    cluster.version = "9.3.0"
    vol.snapshots = vol.snapshots[:255]
    with pytest.raises(NetAppRestError, match=r"\(255\)"):
        Snapshot(vol.uuid, name="old-ontap").post()


def test_snapshot_limit_on_a_mirror_destination(ontap_lab):
    b = ontap_lab.cluster("cluster-b")
    rel = b.create_relationship("svm1:vol1", "svm_dr:vol1_dr")
    assert b.snapshot_limit(rel.destination) == 1019
    b.version = "9.3.0"
    assert b.snapshot_limit(rel.destination) == 254


def test_unexpired_snapshot_is_busy(conn, ontap_lab):
    vol = Volume.find(name="vol1")
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    Snapshot(vol.uuid, name="locked", expiry_time=expiry).post()
    snap = Snapshot.find(vol.uuid, name="locked")
    with pytest.raises(NetAppRestError, match="has not expired or is locked"):
        snap.delete()
    assert job_code(ontap_lab) == SNAPSHOT_BUSY
    # Clearing expiry_time takes an explicit null, which the client's diff-based patch() never sends.
    response = conn.session.patch(f"{ontap_lab.url()}/api/storage/volumes/{vol.uuid}/snapshots/{snap.uuid}",
                                  json={"expiry_time": None})
    utils.poll(response, connection=conn)
    snap.delete()
    assert not ontap_lab.cluster().volume("vol1").has_snapshot("locked")


def test_flexclone_content_busy_parent_and_split(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    parent = Volume.find(name="vol1")
    Snapshot(parent.uuid, name="base").post()
    cluster.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"changed after base")
    clone = Volume(name="vol1_clone", svm={"name": "svm1"},
                   clone={"parent_volume": {"name": "vol1"}, "parent_snapshot": {"name": "base"}, "is_flexclone": True})
    clone.post()
    clone.get(fields="clone")
    assert clone.clone.is_flexclone and clone.clone.parent_snapshot.name == "base"
    assert clone.clone.parent_volume.name == "vol1"
    source_lun, clone_lun = cluster.lun("/vol/vol1/lun1"), cluster.lun("/vol/vol1_clone/lun1")
    assert clone_lun.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert clone_lun.serial != source_lun.serial and len(clone_lun.serial) == 12
    assert clone_lun.content.disk_id == source_lun.content.disk_id  # same bytes, same disk signature
    base = Snapshot.find(parent.uuid, name="base")
    with pytest.raises(NetAppRestError, match="owners: volume_clone"):
        base.delete()
    clone.clone = {"split_initiated": True}
    clone.patch()
    clone.get(fields="clone")
    assert clone.clone.is_flexclone is False
    base.delete()
    assert not cluster.volume("vol1").has_snapshot("base")


def test_flexclone_without_snapshot_takes_one(conn, ontap_lab):
    Volume(name="c2", svm={"name": "svm1"}, clone={"parent_volume": {"name": "vol2"}, "is_flexclone": True}).post()
    cluster = ontap_lab.cluster()
    assert cluster.volume("c2").clone_parent.name.startswith("clone_c2.")
    with pytest.raises(NetAppRestError, match="FlexClone"):
        Volume.find(name="vol2").delete()
