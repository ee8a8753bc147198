"""LUNs, igroups and LUN maps through netapp-ontap: serials, os types, clones from snapshots, maps."""
from __future__ import annotations

import pytest
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import Igroup, Lun, LunMap, Snapshot, Volume


def test_lun_create_is_synchronous_with_full_location(conn, ontap_lab):
    lun = Lun(name="/vol/vol2/new", svm={"name": "svm1"}, os_type="hyper_v", space={"size": 1024 ** 3})
    lun.post(hydrate=True)
    model = ontap_lab.cluster().lun("/vol/vol2/new")
    assert lun.uuid == model.uuid and len(lun.serial_number) == 12 and lun.serial_number == model.serial
    assert lun.os_type == "hyper_v" and model.content.partition_style == "RAW"
    assert not ontap_lab.cluster().jobs  # no job on a 9.13 persona


def test_lun_create_is_a_job_from_9_16(conn, ontap_lab):
    ontap_lab.cluster().version = "9.16.1"
    Lun(name="/vol/vol2/new", svm={"name": "svm1"}, os_type="windows_2008", space={"size": 1024 ** 3}).post()
    assert ontap_lab.cluster().lun("/vol/vol2/new").os_type == "windows_2008"
    assert len(ontap_lab.cluster().jobs) == 1


def test_lun_fields_and_duplicates(conn, ontap_lab):
    lun = Lun.find(name="/vol/vol1/lun1", fields="serial_number,os_type,lun_maps,location,status,space")
    assert lun.location.volume.name == "vol1" and lun.location.logical_unit == "lun1"
    assert lun.status.mapped is True and lun.lun_maps[0].igroup.name == "hv-host1"
    assert lun.space.size == 10 * 1024 ** 3
    with pytest.raises(NetAppRestError) as err:
        Lun(name="/vol/vol1/lun1", svm={"name": "svm1"}, os_type="hyper_v", space={"size": 1024}).post()
    assert err.value.status_code == 400 and err.value.response_body["error"]["code"] == "1"


def test_lun_clone_from_snapshot_path_and_overwrite(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    vol = Volume.find(name="vol1")
    Snapshot(vol.uuid, name="snap1").post()
    source = cluster.lun("/vol/vol1/lun1")
    source.content.files.write("vm1\\vm1.vhdx", b"after snap1")
    clone = Lun(name="/vol/vol1/lun1_clone", svm={"name": "svm1"},
                clone={"source": {"name": "/vol/vol1/.snapshot/snap1/lun1"}})
    clone.post(hydrate=True)
    model = cluster.lun("/vol/vol1/lun1_clone")
    assert model.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1"
    assert clone.serial_number != source.serial and clone.os_type == source.os_type and clone.space.size == source.size
    with pytest.raises(NetAppRestError, match="owners: lun_clone"):
        Snapshot.find(vol.uuid, name="snap1").delete()
    # Overwrite an existing LUN with a clone: identity and maps stay, bytes come back.
    lun = Lun.find(name="/vol/vol1/lun1")
    conn.session.patch(f"{ontap_lab.url()}/api/storage/luns/{lun.uuid}",
                       json={"clone": {"source": {"name": "/vol/vol1/.snapshot/snap1/lun1"}}}).raise_for_status()
    assert source.content.files.read("vm1\\vm1.vhdx") == b"vm1 disk v1" and cluster.maps_of(source)
    clone.delete()


def test_lun_rename_resize_delete_mapped(conn, ontap_lab):
    lun = Lun.find(name="/vol/vol1/lun1")
    lun.space = {"size": 20 * 1024 ** 3}
    lun.patch()
    assert ontap_lab.cluster().lun("/vol/vol1/lun1").size == 20 * 1024 ** 3
    with pytest.raises(NetAppRestError, match="is mapped"):
        lun.delete()
    lun.delete(allow_delete_while_mapped=True)
    assert not ontap_lab.cluster().lun_maps


def test_igroup_rejects_windows_2008_and_duplicates(conn, ontap_lab):
    # netapp-ontap validates this enum itself, so send the raw body to check the server does too.
    response = conn.session.post(f"{ontap_lab.url()}/api/protocols/san/igroups",
                                 json={"name": "g", "svm": {"name": "svm1"}, "os_type": "windows_2008"})
    assert response.status_code == 400 and response.json()["error"]["target"] == "os_type"
    with pytest.raises(NetAppRestError) as err:
        Igroup(name="hv-host1", svm={"name": "svm1"}, os_type="hyper_v").post()
    assert err.value.response_body["error"]["code"] == "1"


def test_igroup_initiators_and_lun_visibility(conn, ontap_lab):
    group = Igroup(name="hv-host2", svm={"name": "svm1"}, os_type="hyper_v", protocol="iscsi",
                   initiators=[{"name": "iqn.1991-05.com.microsoft:hv-host2"}])
    group.post(hydrate=True)
    assert group.protocol == "iscsi" and group.initiators[0].name == "iqn.1991-05.com.microsoft:hv-host2"
    mapping = LunMap(svm={"name": "svm1"}, lun={"name": "/vol/vol2/lun3"}, igroup={"name": "hv-host2"})
    mapping.post(hydrate=True)
    assert mapping.logical_unit_number == 0
    cluster = ontap_lab.cluster()
    visible = cluster.luns_visible_to("IQN.1991-05.com.microsoft:hv-host2")
    assert [(lun.path, lun_id) for lun, lun_id in visible] == [("/vol/vol2/lun3", 0)]
    assert ontap_lab.world.find_lun_by_serial(visible[0][0].serial)[1] is visible[0][0]


def test_lun_map_lowest_free_id_duplicate_and_delete(conn, ontap_lab):
    second = LunMap(svm={"name": "svm1"}, lun={"name": "/vol/vol1/lun2"}, igroup={"name": "hv-host1"})
    second.post()
    found = LunMap.find(lun={"name": "/vol/vol1/lun2"}, igroup={"name": "hv-host1"})
    assert found.logical_unit_number == 1
    with pytest.raises(NetAppRestError) as err:
        LunMap(svm={"name": "svm1"}, lun={"name": "/vol/vol1/lun2"}, igroup={"name": "hv-host1"}).post()
    assert err.value.response_body["error"]["code"] == "5374922"
    found.delete()
    assert [m.lun.name for m in ontap_lab.cluster().lun_maps] == ["lun1"]


def test_igroup_delete_blocked_while_mapped(conn, ontap_lab):
    group = Igroup.find(name="hv-host1")
    with pytest.raises(NetAppRestError, match="mapped"):
        group.delete()
    group.delete(allow_delete_while_mapped=True)
    assert not ontap_lab.cluster().igroups and not ontap_lab.cluster().lun_maps
