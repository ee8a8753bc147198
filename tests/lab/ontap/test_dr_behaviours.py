"""What smhv_failover needs from ONTAP, through netapp-ontap against the simulator: a break from the destination while the
source cluster drops every request, single-LUN SnapRestore on the broken destination (none on one that is not broken;
a volume SnapRestore only once no relationship owns the newer base), and a FlexClone of a destination volume at a
snapshot that leaves the relationship snapmirrored and updating."""
from __future__ import annotations

import pytest
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import CLI, SnapmirrorRelationship, SnapmirrorTransfer, Volume

VHDX = "vm1\\vm1.vhdx"


@pytest.fixture
def mirrored(ontap_lab):
    """vol1 mirrored to vol1_dr with a snapshot 'backup1' holding 'v1', then 'v2' sent by a later update."""
    a = ontap_lab.cluster("cluster-a")
    with ontap_lab.connection("cluster-b"):
        rel = SnapmirrorRelationship(source={"path": "svm1:vol1"}, destination={"path": "svm_dr:vol1_dr"}, state="snapmirrored")
        rel.post(hydrate=True)
        a.lun("/vol/vol1/lun1").content.files.write(VHDX, b"v1")
        a.create_snapshot("vol1", "backup1")
        SnapmirrorTransfer(rel.uuid).post(hydrate=True)
        a.lun("/vol/vol1/lun1").content.files.write(VHDX, b"v2")
        SnapmirrorTransfer(rel.uuid).post(hydrate=True)
    return rel


def dr_bytes(ontap_lab, volume="vol1_dr"):
    return ontap_lab.cluster("cluster-b").volume(volume).luns["lun1"].content.files.read(VHDX)


def test_break_from_the_destination_with_the_source_cluster_dropping_everything(ontap_lab, mirrored):
    ontap_lab.faults.add("ontap", "drop", match={"cluster": "cluster-a"}, times=0)
    with ontap_lab.connection("cluster-b"):
        rel = SnapmirrorRelationship(uuid=mirrored.uuid)
        rel.state = "paused"
        rel.patch()
        rel.state = "broken_off"
        rel.patch()
        rel.get(fields="state")
    assert rel.state == "broken_off" and ontap_lab.cluster("cluster-b").volume("vol1_dr").type == "rw"
    assert [r["seen"] for r in ontap_lab.faults.rules()] == [0]  # nothing went to cluster-a


def test_snaprestore_of_a_lun_and_of_the_volume_on_the_broken_destination(ontap_lab, mirrored):
    b = ontap_lab.cluster("cluster-b")
    with ontap_lab.connection("cluster-b"):
        SnapmirrorRelationship.patch_collection({"state": "broken_off"}, uuid=mirrored.uuid)
        assert dr_bytes(ontap_lab) == b"v2"
        CLI().execute("volume snapshot restore-file", body={"vserver": "svm_dr", "volume": "vol1_dr", "snapshot": "backup1", "path": "/lun1"})
        assert dr_bytes(ontap_lab) == b"v1"
        b.volume("vol1_dr").luns["lun1"].content.files.write(VHDX, b"written at DR")
        newer = [s.name for s in b.volume("vol1_dr").snapshots]
        assert newer.index("backup1") < len(newer) - 1  # the mirror's newer base snapshot
        # A volume SnapRestore would delete the relationship's base, which SnapMirror still owns after the break (it is
        # what a resync or a reverse resync starts from): refused; smhv_failover then restores the LUN alone.
        with pytest.raises(NetAppRestError, match="is busy \\(owners: snapmirror\\)"):
            Volume.patch_collection({"restore_to.snapshot.name": "backup1"}, uuid=b.volume("vol1_dr").uuid)
        assert dr_bytes(ontap_lab) == b"written at DR"
        SnapmirrorRelationship(uuid=mirrored.uuid).delete()  # the relationship gone, nothing owns the base any more
        Volume.patch_collection({"restore_to.snapshot.name": "backup1"}, uuid=b.volume("vol1_dr").uuid)
    assert dr_bytes(ontap_lab) == b"v1"
    assert [s.name for s in b.volume("vol1_dr").snapshots][-1] == "backup1"  # volume SnapRestore drops the newer ones


def test_snaprestore_on_a_destination_not_broken_is_refused(ontap_lab, mirrored):
    b = ontap_lab.cluster("cluster-b")
    with ontap_lab.connection("cluster-b"):
        with pytest.raises(NetAppRestError, match="data protection volume"):
            CLI().execute("volume snapshot restore-file",
                          body={"vserver": "svm_dr", "volume": "vol1_dr", "snapshot": "backup1", "path": "/lun1"})
        with pytest.raises(NetAppRestError, match="data protection volume"):
            Volume.patch_collection({"restore_to.snapshot.name": "backup1"}, uuid=b.volume("vol1_dr").uuid)
    assert dr_bytes(ontap_lab) == b"v2" and b.volume("vol1_dr").type == "dp"


def test_flexclone_of_a_destination_at_a_snapshot_keeps_the_mirror_updating(ontap_lab, mirrored):
    a, b = ontap_lab.cluster("cluster-a"), ontap_lab.cluster("cluster-b")
    with ontap_lab.connection("cluster-b"):
        Volume(name="smhv_drill_vol1_dr", svm={"name": "svm_dr"},
               clone={"parent_volume": {"name": "vol1_dr"}, "parent_snapshot": {"name": "backup1"}, "is_flexclone": True}).post()
        clone = b.volume("smhv_drill_vol1_dr")
        assert clone.type == "rw" and dr_bytes(ontap_lab, "smhv_drill_vol1_dr") == b"v1"
        assert clone.luns["lun1"].serial != b.volume("vol1_dr").luns["lun1"].serial
        a.lun("/vol/vol1/lun1").content.files.write(VHDX, b"v3")
        SnapmirrorTransfer(mirrored.uuid).post(hydrate=True)
        rel = SnapmirrorRelationship(uuid=mirrored.uuid)
        rel.get(fields="state,healthy")
        assert rel.state == "snapmirrored" and rel.healthy and dr_bytes(ontap_lab) == b"v3"
        assert dr_bytes(ontap_lab, "smhv_drill_vol1_dr") == b"v1" and b.volume("vol1_dr").has_snapshot("backup1")
        record = Volume(uuid=clone.uuid)
        record.state = "offline"
        record.patch()
        Volume(uuid=clone.uuid).delete()
    assert "smhv_drill_vol1_dr" not in [v.name for v in b.volumes.values()]
