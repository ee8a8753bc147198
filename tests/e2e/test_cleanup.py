"""smhv_cleanup against the lab: real leftovers of every kind (a checkpoint, a snapshot with the collection's comment
and no record, a temporary consistency group, a restore's clone mapped, connected and mounted in a folder), beside
look-alikes that are not ours. Check mode changes nothing, a run removes only ours, a second run changes nothing."""
from __future__ import annotations

import pytest
from netapp_ontap.resources import ConsistencyGroup

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_cleanup
from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
OLD_BACKUP = "prod_01-01-2026_00.00.00"
COMMENT = "netapp_hyperv.smhv backup %s of dataset prod" % OLD_BACKUP
CLONE = "smhv_restore_deadbeef_lun1"
FOLDER = "C:\\SMHV\\Mounts\\" + CLONE


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "prod", ["vm-web01"])
    return site


def cleanup(site, check_mode, **options):
    params = dict(site.common, hyperv_host="hvclus01", grace_period=0, break_lease=False, mount_root="C:\\SMHV\\Mounts")
    params.update(options)
    return smhv_cleanup.run(params, check_mode)


def make_leftovers(site):
    vm_id = site.vm_ids("hvclus01", ["vm-web01"])["vm-web01"]
    storage = site.storage()
    with site.session("hvclus01") as session:
        for name in ("smhv_x", "mine_smhv"):
            session.call_nodes("checkpoint_create", {"ids": [vm_id], "name": name})
        disks = session.owner.call("disk_rescan", check_mode=True).result["disks"]
        serials = [disk["serial"] for disk in disks if disk["netapp_lun"] and any("ClusterStorage" in path for path in disk["access_paths"])]
        luns = storage.find_luns_by_serials(serials)
        lun = sorted(luns.values(), key=lambda item: item.path)[0]
        volumes = storage.get_volumes(lun.cluster, sorted(set(item.volume_uuid for item in luns.values())))
        volume = next(item for item in volumes if item.uuid == lun.volume_uuid)
        storage.create_snapshot(volume, OLD_BACKUP, comment=COMMENT)
        storage.create_snapshot(volume, "prod_manual", comment="taken by hand")
        endpoint = storage._clusters.endpoint(lun.cluster)  # pylint: disable=protected-access
        with endpoint.call("create a leftover temporary consistency group"):
            ConsistencyGroup(name="smhv_tmp_" + OLD_BACKUP, svm={"name": volume.svm},
                             volumes=[{"name": item.name, "provisioning_options": {"action": "add"}} for item in volumes]).post()
        found = dict((item.name, item) for item in storage.list_snapshots(volume))
        clone = storage.san.clone_lun(found[OLD_BACKUP], lun, CLONE)
        storage.san.clone_lun(found["prod_manual"], lun, "restore_mine")
        storage.san.map_lun(clone, host_igroup(storage, lun, session.facts))
        session.owner.call("disk_connect", {"serial": clone.serial, "access_path": FOLDER + "\\"})
    return volume


def test_cleanup_finds_and_removes_only_ours_and_a_second_run_changes_nothing(site, lab):
    volume = make_leftovers(site)
    before = lab.state()
    planned = cleanup(site, True)
    assert lab.state() == before, "check mode changed the lab"
    assert planned["changed"] is True
    orphans = planned["orphans"]
    assert [item["name"] for item in orphans["checkpoints"]] == ["smhv_x"]
    assert [item["name"] for item in orphans["snapshots"]] == [OLD_BACKUP]
    assert [item["name"] for item in orphans["consistency_groups"]] == ["smhv_tmp_" + OLD_BACKUP]
    assert [item["name"] for item in orphans["clones"]] == [CLONE]
    assert [item["path"].lower() for item in orphans["mount_folders"]] == [FOLDER.lower()], (planned["kept"], planned["warnings"])
    # The clone was mapped through the lab's own igroup of the host (it holds the host's initiators): the map goes with the
    # clone, the igroup is not ours and stays.
    assert [item["igroup"] for item in orphans["lun_maps"]] == ["ig_hv01"] and orphans["igroups"] == []

    done = cleanup(site, False)
    assert done["failed"] == [] and done["changed"] is True
    assert done["actions"] == planned["actions"]
    with site.session("hvclus01") as session:
        listed = [item["name"] for reply in session.call_nodes("checkpoint_list").values() for item in reply.result["checkpoints"]]
        assert listed == ["mine_smhv"]
        assert not session.owner.call("path_info", {"paths": [FOLDER]}).result["paths"][0]["exists"]
    storage = site.storage()
    snapshots = [item.name for item in storage.list_snapshots(volume)]
    assert OLD_BACKUP not in snapshots and "prod_manual" in snapshots
    assert storage.san.find_lun(volume.cluster, volume.svm, "/vol/%s/%s" % (volume.name, CLONE)) is None
    assert storage.san.find_lun(volume.cluster, volume.svm, "/vol/%s/restore_mine" % volume.name) is not None

    again = cleanup(site, False)
    assert again["changed"] is False and again["actions"] == [] and again["failed"] == []
    assert all(items == [] for items in again["orphans"].values())
