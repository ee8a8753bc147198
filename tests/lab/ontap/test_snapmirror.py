"""SnapMirror through netapp-ontap on the destination cluster: initialize, update, quiesce, break (also
during a transfer), resync, reverse, restore and delete, with the LUN bytes followed across sites."""
from __future__ import annotations

import pytest
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import SnapmirrorRelationship, SnapmirrorTransfer, Snapshot

from smhv_lab.world.storage import BREAK_DURING_TRANSFER


@pytest.fixture
def dest(ontap_lab):
    with ontap_lab.connection("cluster-b") as connection:
        yield connection


def create(initialize: bool = True) -> SnapmirrorRelationship:
    rel = SnapmirrorRelationship(source={"path": "svm1:vol1"}, destination={"path": "svm_dr:vol1_dr"})
    if initialize:
        rel.state = "snapmirrored"
    rel.post(hydrate=True)
    return rel


def failed_job_code(cluster) -> int:
    return [j for j in cluster.jobs.values() if j.state == "failure"][-1].code


def dr_file(ontap_lab) -> bytes:
    return ontap_lab.cluster("cluster-b").lun("/vol/vol1_dr/lun1").content.files.read("vm1\\vm1.vhdx")


def test_initialize_copies_data_and_snapshots(dest, ontap_lab):
    a = ontap_lab.cluster("cluster-a")
    a.create_snapshot("vol1", "daily.1", snapmirror_label="daily")
    rel = create(initialize=False)
    assert rel.state == "uninitialized" and rel.source.cluster.name == "cluster-a"
    rel.state = "snapmirrored"
    rel.patch()
    rel.get(fields="state,healthy,exported_snapshot,lag_time,last_transfer_type,transfer")
    assert rel.state == "snapmirrored" and rel.healthy and rel.last_transfer_type == "initialize"
    assert rel.exported_snapshot.startswith("snapmirror.") and rel.transfer.state == "success"
    assert rel.lag_time.startswith("PT")
    dr = ontap_lab.cluster("cluster-b").volume("vol1_dr")
    assert [s.name for s in dr.snapshots] == ["daily.1", rel.exported_snapshot]
    assert dr_file(ontap_lab) == b"vm1 disk v1" and dr.type == "dp"
    source_serial = a.lun("/vol/vol1/lun1").serial
    assert dr.luns["lun1"].serial != source_serial


def test_update_moves_new_bytes_and_rotates_the_base(dest, ontap_lab):
    a = ontap_lab.cluster("cluster-a")
    rel = create()
    first_base = rel.exported_snapshot
    a.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"v2")
    SnapmirrorTransfer(rel.uuid).post(hydrate=True)
    rel.get(fields="exported_snapshot,last_transfer_type")
    assert dr_file(ontap_lab) == b"v2" and rel.last_transfer_type == "update"
    names = [s.name for s in a.volume("vol1").snapshots]
    assert names == [rel.exported_snapshot] and first_base != rel.exported_snapshot
    with ontap_lab.connection("cluster-a"):
        snap = Snapshot.find(a.volume("vol1").uuid, name=rel.exported_snapshot)
        with pytest.raises(NetAppRestError, match="owners: snapmirror"):
            snap.delete()


def test_quiesce_break_resync_roll_back_destination_writes(dest, ontap_lab):
    a, b = ontap_lab.cluster("cluster-a"), ontap_lab.cluster("cluster-b")
    rel = create()
    rel.state = "paused"
    rel.patch()
    with pytest.raises(NetAppRestError, match="paused"):
        SnapmirrorTransfer(rel.uuid).post()
    rel.state = "broken_off"
    rel.patch()
    dr = b.volume("vol1_dr")
    assert dr.type == "rw"
    dr.luns["lun1"].content.files.write("vm1\\vm1.vhdx", b"written at DR")
    b.create_snapshot("vol1_dr", "dr-only")
    a.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"v3 at source")
    rel.state = "snapmirrored"
    rel.patch()
    rel.get(fields="state,last_transfer_type")
    assert rel.state == "snapmirrored" and rel.last_transfer_type == "resync" and dr.type == "dp"
    assert dr_file(ontap_lab) == b"v3 at source" and not dr.has_snapshot("dr-only")


def test_break_during_transfer_fails_unless_forced(dest, ontap_lab):
    b = ontap_lab.cluster("cluster-b")
    rel = create()
    b.transfer_polls = 3
    transfer = SnapmirrorTransfer(rel.uuid)
    transfer.post()
    rel.get(fields="transfer")
    assert rel.transfer.state == "transferring"
    rel.state = "broken_off"
    with pytest.raises(NetAppRestError, match="transfer is in progress"):
        rel.patch()
    assert failed_job_code(b) == BREAK_DURING_TRANSFER
    # The client believes the failed PATCH landed and would now send an empty body: patch by query instead.
    SnapmirrorRelationship.patch_collection({"state": "broken_off"}, uuid=rel.uuid, force=True)
    transfer.get()
    assert transfer.state == "aborted" and b.relationship(rel.uuid).state == "broken_off"


def test_slow_transfer_lands_after_polls(dest, ontap_lab):
    a, b = ontap_lab.cluster("cluster-a"), ontap_lab.cluster("cluster-b")
    rel = create()
    b.transfer_polls = 2
    a.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"slow bytes")
    SnapmirrorTransfer(rel.uuid).post()
    states = []
    for attempt in range(2):
        rel.get(fields="transfer.state")
        states.append(rel.transfer.state)
    assert states == ["transferring", "success"] and dr_file(ontap_lab) == b"slow bytes"


def test_create_destination_then_break_uninitialized_fails(dest, ontap_lab):
    rel = SnapmirrorRelationship(source={"path": "svm1:vol2"}, destination={"path": "svm_dr:vol2_dr"},
                                 create_destination={"enabled": True})
    rel.post(hydrate=True)
    assert ontap_lab.cluster("cluster-b").volume("vol2_dr").type == "dp" and rel.state == "uninitialized"
    rel.state = "broken_off"
    with pytest.raises(NetAppRestError, match="has not been initialized"):
        rel.patch()


def test_reverse_resync_swaps_roles_across_clusters(dest, ontap_lab):
    a, b = ontap_lab.cluster("cluster-a"), ontap_lab.cluster("cluster-b")
    rel = create()
    rel.state = "broken_off"
    rel.patch()
    b.volume("vol1_dr").luns["lun1"].content.files.write("vm1\\vm1.vhdx", b"failover writes")
    # The schema marks source/destination as not patchable, so the swap goes out as a raw PATCH.
    response = dest.session.patch(f"{ontap_lab.url('cluster-b')}/api/snapmirror/relationships/{rel.uuid}",
                                  json={"source": {"path": "svm_dr:vol1_dr"}, "destination": {"path": "svm1:vol1"},
                                        "state": "snapmirrored"})
    response.raise_for_status()
    assert rel.uuid in a.relationships and rel.uuid not in b.relationships
    assert a.volume("vol1").type == "dp"
    assert a.lun("/vol/vol1/lun1").content.files.read("vm1\\vm1.vhdx") == b"failover writes"
    with ontap_lab.connection("cluster-a"):
        moved = SnapmirrorRelationship.find(destination={"path": "svm1:vol1"}, fields="state,source")
        assert moved.state == "snapmirrored" and moved.source.path == "svm_dr:vol1_dr"


def test_restore_relationship_brings_back_a_snapshot_then_goes_away(dest, ontap_lab):
    a = ontap_lab.cluster("cluster-a")
    rel = create()
    a.lun("/vol/vol1/lun1").content.files.write("vm1\\vm1.vhdx", b"corrupted")
    b = ontap_lab.cluster("cluster-b")
    base = b.volume("vol1_dr").snapshots[-1].name
    with ontap_lab.connection("cluster-a"):
        restore = SnapmirrorRelationship(source={"path": "svm_dr:vol1_dr"}, destination={"path": "svm1:vol2"},
                                         restore=True)
        restore.post(hydrate=True)
        SnapmirrorTransfer(restore.uuid, source_snapshot=base,
                           files=[{"source_path": "/lun1", "destination_path": "/lun1_restored"}]).post()
        assert SnapmirrorRelationship.count_collection(restore=True) == 0
    restored = a.lun("/vol/vol2/lun1_restored")
    assert restored.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert rel.uuid in b.relationships


def test_duplicate_destination_and_delete_releases_the_base(dest, ontap_lab):
    a = ontap_lab.cluster("cluster-a")
    rel = create()
    with pytest.raises(NetAppRestError, match="already exists"):
        create()
    rel.delete()
    assert not ontap_lab.cluster("cluster-b").relationships
    assert not [s for s in a.volume("vol1").snapshots if s.name.startswith("snapmirror.")]
    with pytest.raises(NetAppRestError) as err:
        rel.get()
    assert err.value.status_code == 404


def test_destination_must_be_dp(dest):
    rel = SnapmirrorRelationship(source={"path": "svm1:vol1"}, destination={"path": "svm1:vol2"})
    with pytest.raises(NetAppRestError, match="not on this cluster"):
        rel.post()
