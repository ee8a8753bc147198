"""smhv_mount of a whole backup of hv03 (LUNs J: and K:) on the lab, through the module's code: both LUNs are
browsable with the backup's data, unmounting one VM's LUN leaves the other mounted (and the backup's folder), and
unmounting the rest leaves no clone, disk, access path or folder. Each run reports its timings."""
from __future__ import annotations

import pytest

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
    params = dict(site.common, hyperv_host="hv03", backup=site.backup_name, vm=None, state="mounted", mount_root=MOUNT_ROOT)
    params.update(options)
    result = smhv_mount.run(params, check_mode)
    assert result["timings"]["total"] >= 0 and [s["step"] for s in result["timings"]["steps"]] == ["plan", params["state"][:-2]]
    return result


def vhd_content(site, mount, name):
    vhd = next(path for path in mount["files"] if path.lower().endswith(name))
    with site.session("hv03") as session:
        return session.owner.call("file_read", {"paths": [mount["access_path"] + vhd[3:]]}).result["files"][0]["content"]


def test_mount_a_whole_backup_and_unmount_it_in_two_steps(site, lab):
    mounted = run(site)
    assert mounted["changed"] and sorted(m["lun"].rsplit("/", 1)[1] for m in mounted["mounts"]) == ["lun_j", "lun_k"]
    by_lun = {m["lun"].rsplit("/", 1)[1]: m for m in mounted["mounts"]}
    assert "vm-file01: at backup" in vhd_content(site, by_lun["lun_j"], "vm-file01.vhdx")
    assert "vm-print01: at backup" in vhd_content(site, by_lun["lun_k"], "vm-print01.vhdx")
    assert not run(site)["changed"]

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
