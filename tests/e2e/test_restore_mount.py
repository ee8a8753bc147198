"""smhv_mount of a whole backup of hv03 (LUNs J: and K:) on the lab, through the module's code: both LUNs are
browsable with the backup's data at the paths the result gives for each VM file, unmounting one VM's LUN leaves the
other mounted (and the backup's folder), and unmounting the rest leaves no clone, disk, access path or folder. The
same at drive letters (a free one, one asked for, one in use refused as Windows refuses it), and a backup of a VM on a
cluster shared volume of hvclus01 (C:\\ClusterStorage\\Volume1\\) mounted at a drive letter of the owner node. Each run
reports its timings."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_mount
from e2e.backup_support import LabSite
from e2e.restore_support import MOUNT_ROOT, SNAPINFO, leftovers, write

DATA = "C:\\data\\ledger.txt"


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "browse", ["vm-file01", "vm-print01"])
    for vm in ("vm-file01", "vm-print01"):
        write(lab, vm, DATA, "%s: at backup" % vm)
    site.backup_name = site.backup("hv03", "browse", backup_method="checkpoint")["backup"]["name"]
    for vm in ("vm-file01", "vm-print01"):
        write(lab, vm, DATA, "%s: later" % vm)
    return site


def run(site, check_mode=False, **options):
    params = dict(site.common, hyperv_host="hv03", backup=site.backup_name, vm=None, state="mounted", mount_root=MOUNT_ROOT,
                  access="folder", drive_letters=None)
    params.update(options)
    result = smhv_mount.run(params, check_mode)
    assert result["timings"]["total"] >= 0 and [s["step"] for s in result["timings"]["steps"]] == ["plan", params["state"][:-2]]
    return result


def vhd_content(site, mount, name, scope="hv03"):
    """The guest data in the mounted copy of the VM's virtual disk, read at the path the result gives for it."""
    mounted = next(f["mounted"] for f in mount["files"] if f["backed_up"].lower().endswith(name))
    with site.session(scope) as session:
        return session.owner.call("file_read", {"paths": [mounted]}).result["files"][0]["content"]


def drive_letters(lab, host):
    return sorted(path for disk in lab.state()["hosts"][host]["disks"] for path in disk["access_paths"] if len(path) == 3)


def test_mount_a_whole_backup_and_unmount_it_in_two_steps(site, lab):
    mounted = run(site)
    assert mounted["changed"] and sorted(m["lun"].rsplit("/", 1)[1] for m in mounted["mounts"]) == ["lun_j", "lun_k"]
    by_lun = {m["lun"].rsplit("/", 1)[1]: m for m in mounted["mounts"]}
    for mount in mounted["mounts"]:  # J:\\ and K:\\ at backup: each file's path below the drive, under the mount folder
        assert mount["files"] and all(f["mounted"] == mount["access_path"] + f["backed_up"][3:] for f in mount["files"])
    assert "vm-file01: at backup" in vhd_content(site, by_lun["lun_j"], "vm-file01.vhdx")
    assert "vm-print01: at backup" in vhd_content(site, by_lun["lun_k"], "vm-print01.vhdx")
    again = run(site)
    assert not again["changed"] and again["mounts"] == mounted["mounts"]

    partly = run(site, vm="vm-file01", state="unmounted")
    assert partly["changed"] and [m["lun"].rsplit("/", 1)[1] for m in partly["mounts"]] == ["lun_j"]
    left = leftovers(lab)
    k_folder = by_lun["lun_k"]["access_path"].rstrip("\\")
    assert not any(by_lun["lun_j"]["access_path"].rstrip("\\") in item for item in left)
    assert "hv03: " + k_folder in left and "hv03: %s\\%s" % (MOUNT_ROOT, site.backup_name) in left
    assert "vm-print01: at backup" in vhd_content(site, by_lun["lun_k"], "vm-print01.vhdx")

    rest = run(site, state="unmounted")
    assert rest["changed"] and leftovers(lab) == []
    assert not run(site, state="unmounted")["changed"]


def test_retention_skips_a_mounted_backup_until_it_is_unmounted(site, lab):
    """The clone keeps the backup's snapshot busy (seed §6.11): retention keeps that backup, says why, and deletes it
    on the first run after the unmount."""
    keep_one = {"tag": "hourly", "count": 1, "age": None}
    first = site.backup("hv03", "browse", backup_method="checkpoint", retention=keep_one)["backup"]["name"]
    assert run(site, backup=first, vm="vm-file01")["changed"]
    second = site.backup("hv03", "browse", backup_method="checkpoint", retention=keep_one)
    assert second["backup"]["status"] == "ok"
    assert second["retention"]["skipped_busy"] == [first], second["retention"]
    assert any(first in warning and "kept" in warning for warning in second["warnings"])
    assert first in dict(site.backups("hv03", SNAPINFO, "browse"))
    assert run(site, backup=first, vm="vm-file01", state="unmounted")["changed"] and leftovers(lab) == []
    third = site.backup("hv03", "browse", backup_method="checkpoint", retention=keep_one)
    names = [name for name, _status in site.backups("hv03", SNAPINFO, "browse")]
    assert first not in names and second["backup"]["name"] not in names and third["backup"]["name"] in names
    snapshots = lab.state()["ontap"]["cluster-a"]["volumes"]["vol_hv03"]["snapshots"]
    assert not any(name.startswith(first) for name in snapshots)


def test_mount_at_drive_letters_free_asked_for_and_taken(site, lab):
    taken = drive_letters(lab, "hv03")
    assert "J:\\" in taken  # vm-file01's own LUN
    refused = None
    try:
        run(site, vm="vm-print01", access="drive_letter", drive_letters=["J"])
    except SmhvError as error:
        refused = error
    assert refused is not None and refused.code == "DRIVE_LETTER_IN_USE" and "J:" in refused.message
    assert leftovers(lab) == [] and drive_letters(lab, "hv03") == taken  # the clone made for it is gone again

    free = run(site, vm="vm-file01", access="drive_letter")
    letter = free["mounts"][0]["access_path"]
    assert free["changed"] and len(letter) == 3 and letter not in taken
    assert all(f["mounted"] == letter + f["backed_up"][3:] for f in free["mounts"][0]["files"])
    assert "vm-file01: at backup" in vhd_content(site, free["mounts"][0], "vm-file01.vhdx")
    again = run(site, vm="vm-file01", access="drive_letter")
    assert not again["changed"] and again["mounts"] == free["mounts"]

    asked = run(site, vm="vm-print01", access="drive_letter", drive_letters=["X:"])
    assert asked["mounts"][0]["access_path"] == "X:\\"
    assert "vm-print01: at backup" in vhd_content(site, asked["mounts"][0], "vm-print01.vhdx")
    assert drive_letters(lab, "hv03") == sorted(taken + [letter, "X:\\"])

    gone = run(site, state="unmounted")
    assert sorted(m["access_path"] for m in gone["mounts"]) == sorted([letter, "X:\\"])
    assert leftovers(lab) == [] and drive_letters(lab, "hv03") == taken


def test_mount_a_csv_vm_of_a_cluster_at_a_drive_letter(site, lab):
    """vm-web01 is on C:\\ClusterStorage\\Volume1\\ of hvclus01: its files are at their path below the CSV, under the
    drive letter the clone gets on the owner node."""
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", ["vm-web01"])
    lab.control("POST", "/guest-data", {"vm": "vm-web01", "path": DATA, "data": "vm-web01: at backup", "in_flight": False})
    backup = site.backup("hvclus01", "web", backup_method="checkpoint")["backup"]["name"]
    lab.control("POST", "/guest-data", {"vm": "vm-web01", "path": DATA, "data": "vm-web01: later", "in_flight": False})
    mounted = run(site, hyperv_host="hvclus01", backup=backup, access="drive_letter")
    [mount] = mounted["mounts"]
    letter = mount["access_path"]
    csv = "C:\\ClusterStorage\\Volume1\\"
    assert len(letter) == 3 and mount["files"] and all(f["backed_up"].startswith(csv) for f in mount["files"])
    assert all(f["mounted"] == letter + f["backed_up"][len(csv):] for f in mount["files"])
    assert "vm-web01: at backup" in vhd_content(site, mount, "vm-web01.vhdx", scope="hvclus01")
    assert not run(site, hyperv_host="hvclus01", backup=backup, access="drive_letter")["changed"]
    assert run(site, hyperv_host="hvclus01", backup=backup, state="unmounted")["changed"]
    assert leftovers(lab) == [] and letter not in drive_letters(lab, mounted["host"].lower())
