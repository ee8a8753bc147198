"""The ONTAP calls of a failback to a rebuilt site and of reprotect (engines/dr/failback_sites.py RoundTripStorage), through
netapp-ontap over HTTPS against the lab: a relationship created with create_destination and initialized in one POST (ONTAP
makes the DP volume), the relationship of a gone source deleted on its destination, and the maps of LUNs to one igroup."""
from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import RoundTripStorage


def storage(site):
    return RoundTripStorage([site.system("cluster-a"), site.system("cluster-b")])


def test_create_mirror_makes_the_destination_volume_and_initializes_it(site):
    client = storage(site)
    relationship = client.create_mirror("cluster-b", "svm_dr:vol1_dr", "cluster-a", "svm1:vol1_back")
    assert (relationship.cluster, relationship.source_path, relationship.destination_path, relationship.state) == (
        "cluster-a", "svm_dr:vol1_dr", "svm1:vol1_back", "snapmirrored")
    made = site.cluster("cluster-a").volume("vol1_back", "svm1")
    assert made.type == "dp" and "lun1" in made.luns  # the mirror's LUN, by its name
    again = client.create_mirror("cluster-b", "svm_dr:vol1_dr", "cluster-a", "svm1:vol1_back")
    assert again.uuid == relationship.uuid  # a re-run finds it


def test_delete_relationship_on_its_destination(site):
    client = storage(site)
    (mirror,) = client.snapmirror.find(destination_path="svm_dr:vol1_dr")
    client.delete_relationship(mirror)
    assert client.snapmirror.find(destination_path="svm_dr:vol1_dr") == []


def test_lun_maps_to_one_igroup(site):
    client = storage(site)
    lun = client.find_lun_by_serial(site.serial("/vol/vol1/lun1"))
    assert [(found.path, igroup.name) for found, igroup in client.lun_maps([lun], "hv-host1")] == [("/vol/vol1/lun1", "hv-host1")]
    assert client.lun_maps([lun], "smhv_other") == []
    (found, igroup) = client.lun_maps([lun], "hv-host1")[0]
    assert client.san.unmap_lun(found, igroup) is True and client.lun_maps([lun], "hv-host1") == []
