"""SMHV's restore warnings on the lab (seed §6.10), each set up for real after a checkpoint-method backup of hv03:
the VM is not running, it has more or fewer virtual disks than at backup, a disk was renamed, its checkpoint
(snapshot) file location or its configuration location changed, its files are on another LUN now.

Each one: check mode shows the plan and the warning and changes nothing; the restore stops with
RESTORE_NEEDS_FORCE and a message naming the VM, the backup and the change, and changes nothing (the VM is
registered and running as before, its data untouched, no clone left); with force the restore goes through and
the guest reads the backup's data.
"""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite
from e2e.restore_support import SNAPINFO, inventory, lab_storage, leftovers, read, restore, shape, write

DATA = "C:\\data\\ledger.txt"
SECOND = "D:\\data\\archive.txt"
VMS = ["vm-print01", "vm-file01", "vm-file02", "vm-sql01"]
FILE02_DATA_DISK = "J:\\vm-file02\\Virtual Hard Disks\\vm-file02_data.vhdx"


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    lab_storage(lab, "vm-file02", "add_disk", path=FILE02_DATA_DISK, size_gib=20)  # two disks at backup
    site.dataset("hv03", SNAPINFO, "guarded", VMS)
    for vm in VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    write(lab, "vm-file02", SECOND, "archive: before")
    backup = site.backup("hv03", "guarded", backup_method="checkpoint")
    assert backup["backup"]["status"] == "ok", backup
    site.backup_name = backup["backup"]["name"]
    for vm in VMS:
        write(lab, vm, DATA, "%s: after" % vm)
    write(lab, "vm-file02", SECOND, "archive: after")
    return site


def refused(site, lab, vm, *phrases, state="Running"):
    """Check mode plans with the warning, the restore is refused with a message naming VM, backup and change, and
    neither changes anything."""
    before, data = shape(inventory(site, vm)), read(lab, vm, DATA)
    assert before["state"] == state
    planned = restore(site, vm, check_mode=True)
    assert planned["force_required"] and planned["changed"] is False
    assert planned["actions"] and planned["luns"]
    text = " ".join(planned["restore_warnings"])
    for phrase in (vm, site.backup_name) + phrases:
        assert phrase in text, (phrase, planned["restore_warnings"])
    assert shape(inventory(site, vm)) == before
    with_force = restore(site, vm, check_mode=True, force=True)  # what force would do, still without doing it
    assert with_force["changed"] and with_force["restore_warnings"] == planned["restore_warnings"]
    assert with_force["actions"] == planned["actions"] and shape(inventory(site, vm)) == before
    with pytest.raises(SmhvError) as error:
        restore(site, vm)
    assert error.value.code == "RESTORE_NEEDS_FORCE"
    assert error.value.details["warnings"] == planned["restore_warnings"]
    for phrase in (vm, site.backup_name, "force=true") + phrases:
        assert phrase in error.value.message, (phrase, error.value.message)
    assert shape(inventory(site, vm)) == before
    assert read(lab, vm, DATA) == data
    assert leftovers(lab) == []
    return planned


def forced(site, lab, vm, **options):
    result = restore(site, vm, force=True, **options)
    assert result["restore_warnings"] and result["backup"] == site.backup_name
    assert read(lab, vm, DATA) == ("%s: before" % vm, True)
    assert leftovers(lab) == []
    return result


def test_vm_not_running(site, lab):
    lab.control("POST", "/vm", {"vm": "vm-file01", "state": "Off"})
    refused(site, lab, "vm-file01", "not running", "it is Off", state="Off")
    result = forced(site, lab, "vm-file01", start=False)
    assert result["vm"]["state"] == "Off"
    lab.control("POST", "/vm", {"vm": "vm-file01", "state": "Running"})


def test_more_virtual_disks(site, lab):
    """A disk attached since the backup: the restored VM has the backup's one disk, and the new disk's file (with
    its data) stays on K:, so the LUN is not restored as a whole but copied from a clone."""
    extra = "K:\\vm-print01\\Virtual Hard Disks\\vm-print01_new.vhdx"
    lab_storage(lab, "vm-print01", "add_disk", path=extra)
    write(lab, "vm-print01", SECOND, "new disk: keep me")
    planned = refused(site, lab, "vm-print01", "more virtual disks (2)", "(1)", "vm-print01_new.vhdx")
    assert [plan["method"] for plan in planned["luns"]] == ["file_copy"]
    result = forced(site, lab, "vm-print01")
    assert any("vm-print01_new.vhdx" in note for note in result["notes"])
    now = inventory(site, "vm-print01")
    assert now["state"] == "Running" and [d["path"] for d in now["hard_disks"]] == ["K:\\vm-print01\\Virtual Hard Disks\\vm-print01.vhdx"]
    with site.session("hv03") as session:
        kept = session.owner.call("file_read", {"paths": [extra]}).result["files"][0]["content"]
    assert "new disk: keep me" in kept


def test_fewer_virtual_disks(site, lab):
    """A disk detached since the backup: the restore brings it back, attached, with the backup's data on it."""
    lab_storage(lab, "vm-file02", "remove_disk", path=FILE02_DATA_DISK)
    refused(site, lab, "vm-file02", "fewer virtual disks (1)", "(2)", "vm-file02_data.vhdx")
    forced(site, lab, "vm-file02")
    now = inventory(site, "vm-file02")
    assert [d["path"] for d in now["hard_disks"]][1] == FILE02_DATA_DISK
    assert read(lab, "vm-file02", SECOND) == ("archive: before", True)


def test_virtual_disk_renamed(site, lab):
    """Move-VMStorage of the disk to a new name: same number of disks, another path."""
    old = "J:\\vm-file01\\Virtual Hard Disks\\vm-file01.vhdx"
    new = "J:\\vm-file01\\Virtual Hard Disks\\vm-file01-renamed.vhdx"
    lab_storage(lab, "vm-file01", "move_disk", path=old, destination=new)
    refused(site, lab, "vm-file01", "names or paths", "vm-file01-renamed.vhdx", "vm-file01.vhdx at backup")
    forced(site, lab, "vm-file01")
    assert [d["path"] for d in inventory(site, "vm-file01")["hard_disks"]] == [old]


def test_checkpoint_file_location_changed(site, lab):
    """Set-VM -SnapshotFileLocation: the seed's "the Snapshot location of the VM has changed"."""
    lab_storage(lab, "vm-sql01", "snapshot_location", path="L:\\Checkpoints")
    planned = refused(site, lab, "vm-sql01", "checkpoint (snapshot) file location", "L:\\Checkpoints", "was L:\\vm-sql01")
    assert [plan["method"] for plan in planned["luns"]] == ["lun"]  # vm-sql01 is alone on L:
    forced(site, lab, "vm-sql01")
    assert inventory(site, "vm-sql01")["snapshot_location"] == "L:\\vm-sql01"


def test_configuration_location_changed(site, lab):
    """Move-VMStorage -VirtualMachinePath: the configuration moved to another folder."""
    lab_storage(lab, "vm-print01", "configuration_location", path="K:\\Moved\\vm-print01")
    refused(site, lab, "vm-print01", "configuration location", "K:\\Moved\\vm-print01\\Virtual Machines")
    forced(site, lab, "vm-print01")
    assert inventory(site, "vm-print01")["config_path"].startswith("K:\\vm-print01\\Virtual Machines\\")


def test_files_on_another_lun(site, lab):
    """L: moved to a new LUN (files copied, drive letter given to it, the old LUN unmapped): the VM's files have
    their paths, on another LUN. The restore copies them back from a clone of the old LUN's snapshot."""
    ids = site.vm_ids("hv03", ["vm-sql01"])
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": [ids["vm-sql01"]]})
        moved = lab.control("POST", "/volume-move", {"host": "hv03", "access_path": "L:\\", "name": "lun_l_2024"})
        session.owner.call("vm_start", {"ids": [ids["vm-sql01"]]})
    old, new = moved["old"]["serial"], moved["new"]["serial"]
    assert shape(inventory(site, "vm-sql01"))["serials"] == [new]
    planned = refused(site, lab, "vm-sql01", "another LUN", "/vol/vol_hv03_sql/lun_l", old, new)
    assert [(plan["method"], plan["now_on"]) for plan in planned["luns"]] == [("file_copy", [new])]
    result = forced(site, lab, "vm-sql01")
    assert result["luns"][0]["method"] == "file_copy"
    assert shape(inventory(site, "vm-sql01"))["serials"] == [new]


def test_deleted_vm_on_a_moved_lun_needs_force_too(site, lab):
    """The seed: a deleted VM is restored when its LUNs have the drive letters of backup time; on another LUN it
    is a warning too."""
    ids = site.vm_ids("hv03", ["vm-sql01"])
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": [ids["vm-sql01"]]})
        session.owner.call("vm_remove", {"ids": [ids["vm-sql01"]]})
    planned = restore(site, "vm-sql01", check_mode=True)
    assert planned["force_required"] and "another LUN" in planned["restore_warnings"][0]
    with pytest.raises(SmhvError) as error:
        restore(site, "vm-sql01")
    assert error.value.code == "RESTORE_NEEDS_FORCE" and inventory(site, "vm-sql01") is None
    result = restore(site, "vm-sql01", force=True)
    assert result["vm"]["id"] == ids["vm-sql01"] and read(lab, "vm-sql01", DATA) == ("vm-sql01: before", True)
    assert leftovers(lab) == []
