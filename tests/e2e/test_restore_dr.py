"""smhv_restore after a SnapMirror failover, on the lab (real WinRM and ONTAP REST), the way the seed's section 8 does it:
VMs of hv03 backed up on site A with the SnapMirror update; site A lost; on site B the mirrors broken, the destination
LUNs connected to the DR host hvdr01 (the mirror of J:\\ at K:\\, the seed's example), SnapInfo restored from its last
snapshot and hvdr01 registered with it; then each VM restored to hvdr01 with the path map and verify_snapshot=false
(SMHV's -DisableVerifySnapshot), from the snapshot of the backup's name on the destination volume.

Site A's ONTAP cluster drops every request from the failover on, so nothing here can come from it: the backup record
names cluster-a's LUNs, and the data must come from cluster-b's copies of the snapshots.
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_restore
from e2e.backup_support import LabSite
from e2e.restore_support import leftovers, read, write

SNAPINFO = "S:\\SnapInfo"
DATA = "C:\\data\\ledger.txt"
VMS = ["vm-file01", "vm-file02", "vm-print01"]
# Where hvdr01 gets the mirrors of hv03's LUNs: J:\ -> K:\ as in the seed's example, K:\ (vm-print01's) -> L:\.
PATH_MAP = {"J:\\": "K:\\", "K:\\": "L:\\"}
MIRRORS = {"/vol/vol_hv03_dr/lun_j": "K:\\", "/vol/vol_hv03_dr/lun_k": "L:\\", "/vol/vol_snapinfo_dr/snapinfo_hv03": "S:\\"}


def restore(site, vm, **options):
    """smhv_restore's engine on hvdr01, whose catalog is the SnapInfo restored on site B."""
    with site.session("hvdr01") as session:
        engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
        return engine.run(vm, **options)


def registered_on(lab, host, vm):
    return [item for item in lab.state()["hosts"][host]["vms"] if item["name"] == vm]


def vhdx_content(site, folder):
    """The VM's virtual disk as hvdr01 reads it (the lab's VHDX holds its guest files as text)."""
    with site.session("hvdr01") as session:
        (vhdx,) = [item["path"] for item in session.owner.call("file_list", {"path": folder, "recurse": True}).result["entries"]
                   if item["path"].lower().endswith(".vhdx")]
        return session.owner.call("file_read", {"paths": [vhdx]}).result["files"][0]["content"]


def fail_over(site, lab):
    """Site A is lost (its ONTAP cluster stops answering, hv03's VMs are gone); on site B, as the seed's steps 1-3: break
    the mirrors, map the destination LUNs to hvdr01 and connect them (SnapDrive's connect: rescan, online, access path),
    restore SnapInfo from its last snapshot and register hvdr01 with it."""
    ids = site.vm_ids("hv03", VMS)
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": sorted(ids.values()), "turn_off": True})
        session.owner.call("vm_remove", {"ids": sorted(ids.values())})
    lab.control("POST", "/faults", {"target": "ontap", "kind": "drop", "match": {"cluster": "cluster-a"}, "times": 0})
    storage = site.storage()
    for relationship in storage.snapmirror.find(destination_path=["svm_dr:vol_hv03_dr", "svm_dr:vol_snapinfo_dr"]):
        storage.snapmirror.quiesce(relationship)
        assert storage.snapmirror.break_off(relationship).state == "broken_off"
    with site.session("hvdr01") as session:
        # hvdr01's iSCSI initiator service is stopped in the topology: start it before any LUN can reach it.
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
        initiators = [port["node_address"] for port in session.facts["initiator_ports"]]
        igroup = storage.san.ensure_igroup("cluster-b", "svm_dr", "ig_hvdr01", initiators)
        for path, access_path in MIRRORS.items():
            lun = storage.san.find_lun("cluster-b", "svm_dr", path)
            storage.san.map_lun(lun, igroup)
            session.owner.call("disk_connect", {"serial": lun.serial, "access_path": access_path})
        restored = snapinfo.restore(session, storage, snapinfo_path=SNAPINFO, source_scope="hv03")
    site.register("hvdr01", SNAPINFO)
    return ids, restored


@pytest.fixture(scope="module")
def dr(lab):
    """Backup 1 (SnapMirror updated: on both sites) with the data 'before'; the data changed to 'after' and the mirror
    updated on its own schedule (site B's LUNs hold 'after'); backup 2 without the SnapMirror update (its snapshot only on
    site A), the SnapInfo mirror updated after it (site B's catalog has it); then the failover."""
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "dr", VMS)
    for vm in VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    first = site.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    assert sorted(item["destination"] for item in first["replication"]) == ["svm_dr:vol_hv03_dr"], first
    for vm in VMS:
        write(lab, vm, DATA, "%s: after" % vm)
    storage = site.storage()
    (mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_hv03_dr")
    storage.snapmirror.update(mirror)
    time.sleep(1.1)  # backup names carry the second
    second = site.backup("hv03", "dr", backup_method="checkpoint")
    assert second["backup"]["status"] == "ok", second
    (snapinfo_mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_snapinfo_dr")
    storage.snapmirror.update(snapinfo_mirror)
    site.first, site.second = first["backup"]["name"], second["backup"]["name"]
    site.ids, site.snapinfo_restore = fail_over(site, lab)
    yield site
    lab.control("DELETE", "/faults")


def test_the_failover_left_site_b_with_the_catalog_and_the_mirrors(dr, lab):
    assert dr.snapinfo_restore["restored_from"].startswith("smhv_snapinfo_hv03_")
    with dr.session("hvdr01") as session:
        names = [s.name for s in Catalog(HostRepository(session.owner, SNAPINFO)).list_backups(dataset="dr")]
    assert names == [dr.first, dr.second]
    site_b = lab.state()["ontap"]["cluster-b"]
    snapshots = site_b["volumes"]["vol_hv03_dr"]["snapshots"]
    assert dr.first in snapshots and dr.second not in snapshots and site_b["volumes"]["vol_hv03_dr"]["type"] == "rw"
    assert {m["destination"]: m["state"] for m in site_b["snapmirrors"]}["svm_dr:vol_hv03_dr"] == "broken_off"
    assert registered_on(lab, "hv03", "vm-file01") == [] and registered_on(lab, "hvdr01", "vm-file01") == []
    for vm, drive in (("vm-file01", "K:"), ("vm-print01", "L:")):  # the mirrors hold what the mirror's update sent: 'after'
        content = vhdx_content(dr, "%s\\%s" % (drive, vm))
        assert "%s: after" % vm in content and "%s: before" % vm not in content


def test_a_backup_the_mirror_never_got_names_the_volume_and_an_older_backup(dr, lab):
    """The newest backup in site B's catalog was not replicated: SNAPSHOT_NOT_FOUND before anything changes."""
    with pytest.raises(SmhvError) as error:
        restore(dr, "vm-file02", path_map=PATH_MAP, verify_snapshot=False)
    message = error.value.message
    assert error.value.code == "SNAPSHOT_NOT_FOUND" and error.value.details["step"] == "plan"
    assert "cluster-b:svm_dr:vol_hv03_dr" in message and dr.second in message and "Update the SnapMirror relationship" in message
    assert error.value.details["backups_on_volume"] == [dr.first] and dr.first in message
    assert registered_on(lab, "hvdr01", "vm-file02") == [] and leftovers(lab) == []


def test_verify_snapshot_true_fails_and_suggests_false(dr, lab):
    with pytest.raises(SmhvError) as error:
        restore(dr, "vm-file02", backup=dr.first, path_map=PATH_MAP)
    message = error.value.message
    assert error.value.code == "LUN_NOT_FOUND" and "cluster-a:svm_hv:vol_hv03" in message
    assert "did not answer" in message  # site A's cluster
    assert "K:\\vm-file02" in message and "cluster-b:/vol/vol_hv03_dr/lun_j" in message
    assert "restore with verify_snapshot=false" in message
    assert error.value.details["suggest"] == {"verify_snapshot": False, "lun": "cluster-b:/vol/vol_hv03_dr/lun_j"}
    assert registered_on(lab, "hvdr01", "vm-file02") == [] and leftovers(lab) == []


def test_the_seed_dr_restore_j_to_k_copies_from_the_destination_snapshot(dr, lab):
    """vm-file01 shares J:\\ with vm-file02: file copy from a clone of the destination LUN in backup 1's snapshot, while
    that LUN holds the data written after the backup (the mirror's own update); the module's run() with its params."""
    params = dict(dr.common, hyperv_host="hvdr01", vm="vm-file01", backup=dr.first, force=False, start=True, target_host=None,
                  path_map=PATH_MAP, post_script=None, verify_snapshot=False)
    planned = smhv_restore.run(params, True)
    (plan,) = planned["luns"]
    assert (plan["method"], plan["lun"], plan["volume"], plan["snapshot"]) == (
        "file_copy", "cluster-b:/vol/vol_hv03_dr/lun_j", "vol_hv03_dr", dr.first)
    assert plan["recorded"]["cluster"] == "cluster-a" and plan["recorded"]["volume"] == "vol_hv03"
    assert all(path.startswith("K:\\vm-file01\\") for path in plan["destinations"]) and planned["verify_snapshot"] is False
    assert registered_on(lab, "hvdr01", "vm-file01") == [] and leftovers(lab) == []
    done = smhv_restore.run(params, False)
    assert done["vm"]["id"] == dr.ids["vm-file01"] and done["vm"]["state"] == "Running" and done["target_host"] == "hvdr01"
    assert [(p["lun"], p["snapshot"]) for p in done["luns"]] == [("cluster-b:/vol/vol_hv03_dr/lun_j", dr.first)]
    (vm,) = registered_on(lab, "hvdr01", "vm-file01")
    assert vm["config_path"].startswith("K:\\vm-file01\\") and all(path.startswith("K:\\") for path in vm["vhd_paths"])
    assert read(lab, "vm-file01", DATA) == ("vm-file01: before", True)
    assert leftovers(lab) == [] and "smhv_restore_" not in str(lab.state())


def test_a_mirror_lun_holding_only_the_vm_is_restored_whole(dr, lab):
    """vm-print01 is alone on the mirror of K:\\, connected at L:\\: single-file SnapRestore of that LUN on cluster-b."""
    result = restore(dr, "vm-print01", backup=dr.first, path_map=PATH_MAP, verify_snapshot=False)
    assert [(p["method"], p["lun"], p["snapshot"]) for p in result["luns"]] == [("lun", "cluster-b:/vol/vol_hv03_dr/lun_k", dr.first)]
    (vm,) = registered_on(lab, "hvdr01", "vm-print01")
    assert vm["id"] == dr.ids["vm-print01"] and all(path.startswith("L:\\vm-print01\\") for path in vm["vhd_paths"])
    assert read(lab, "vm-print01", DATA) == ("vm-print01: before", True)
    assert leftovers(lab) == []


def test_the_older_backup_the_error_named_restores(dr, lab):
    result = restore(dr, "vm-file02", backup=dr.first, path_map=PATH_MAP, verify_snapshot=False)
    assert result["luns"][0]["volume"] == "vol_hv03_dr" and read(lab, "vm-file02", DATA) == ("vm-file02: before", True)
    assert read(lab, "vm-file01", DATA) == ("vm-file01: before", True)  # its neighbour on the LUN, restored before
    assert leftovers(lab) == []
