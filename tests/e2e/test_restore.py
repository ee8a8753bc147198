"""smhv_restore's engine end to end on the lab (real WinRM and ONTAP REST): a backup of standalone host
hv03 taken with the smhv_backup code, guest data changed, then restored, and the guest data read back.

vm-print01 is alone on LUN K: (LUN-level restore); vm-file01 shares LUN J: with vm-file02 (file copy from
a LUN clone, vm-file02 untouched). Warnings stop the restore until force; a deleted VM comes back with its id.
"""
from __future__ import annotations

import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.run import MountEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_mount, smhv_restore
from e2e.backup_support import LabSite
from e2e.restore_support import leftovers

SNAPINFO = "S:\\SnapInfo"
DATA = "C:\\data\\ledger.txt"
VMS = ["vm-print01", "vm-file01", "vm-file02"]


def write(lab, vm, data):
    lab.control("POST", "/guest-data", {"vm": vm, "path": DATA, "data": data, "in_flight": False})


def read(lab, vm):
    return lab.control("GET", "/guest-data?vm=%s&path=%s" % (vm, "C%3A%5Cdata%5Cledger.txt"))["data"]


def restore(site, vm, target=None, **options):
    with site.session("hv03") as session:
        if target is None:
            engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
            return engine.run(vm, **options)
        with site.session(target) as other:
            engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)), target=other)
            return engine.run(vm, **options)


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "files", VMS)
    for vm in VMS:
        write(lab, vm, "%s: before" % vm)
    backup = site.backup("hv03", "files", backup_method="checkpoint")
    assert backup["backup"]["status"] == "ok", backup
    for vm in VMS:
        write(lab, vm, "%s: after" % vm)
    site.backup_name = backup["backup"]["name"]
    return site


def test_lun_level_restore_brings_the_data_back(site, lab):
    result = restore(site, "vm-print01")
    assert result["backup"] == site.backup_name
    assert [plan["method"] for plan in result["luns"]] == ["lun"]
    assert read(lab, "vm-print01") == "vm-print01: before"
    assert result["vm"]["state"] == "Running"
    assert leftovers(lab) == []


def test_file_copy_restore_leaves_the_neighbour_alone(site, lab):
    check = restore(site, "vm-file01", check_mode=True)
    assert [plan["method"] for plan in check["luns"]] == ["file_copy"]
    assert read(lab, "vm-file01") == "vm-file01: after"
    result = restore(site, "vm-file01")
    assert read(lab, "vm-file01") == "vm-file01: before"
    assert read(lab, "vm-file02") == "vm-file02: after"
    assert result["vm"]["state"] == "Running"
    assert leftovers(lab) == []


def test_a_failed_copy_leaves_no_clone_puts_the_vm_back_and_a_rerun_restores(site, lab):
    """The copy fails after the VM was removed (the first file_copy saves its configuration, the second copies the
    backup's files): the clone is gone, and the VM is registered again, running as before (issue 13; before, it was
    left unregistered and a re-run restored it as a deleted VM)."""
    write(lab, "vm-file01", "vm-file01: after again")
    lab.control("DELETE", "/faults")
    lab.control("POST", "/faults", {"target": "agent", "kind": "agent_error", "match": {"op": "file_copy"}, "nth": 2, "times": 1})
    with pytest.raises(SmhvError) as failed:
        restore(site, "vm-file01")
    lab.control("DELETE", "/faults")
    assert failed.value.details["step"] == "restore" and failed.value.details["vm_registered"] is True
    assert "back as it was before the restore" in failed.value.message and "Run the restore again" in failed.value.message
    assert failed.value.details["undo"]["result"] == "undone" and failed.value.details["undo"]["vm_state"] == "Running"
    assert leftovers(lab) == []
    result = restore(site, "vm-file01")
    assert result["vm"]["state"] == "Running" and read(lab, "vm-file01") == "vm-file01: before"
    assert leftovers(lab) == []


def test_vm_not_running_needs_force(site, lab):
    lab.control("POST", "/vm", {"vm": "vm-file02", "state": "Off"})
    planned = restore(site, "vm-file02", check_mode=True)
    assert planned["force_required"] and "not running" in planned["restore_warnings"][0]
    with pytest.raises(SmhvError) as error:
        restore(site, "vm-file02")
    assert error.value.code == "RESTORE_NEEDS_FORCE"
    assert read(lab, "vm-file02") == "vm-file02: after"
    result = restore(site, "vm-file02", force=True, start=False)
    assert result["vm"]["state"] == "Off"
    lab.control("POST", "/vm", {"vm": "vm-file02", "state": "Running"})
    assert read(lab, "vm-file02") == "vm-file02: before"
    assert leftovers(lab) == []


def test_deleted_vm_is_registered_again(site, lab):
    ids = site.vm_ids("hv03", ["vm-print01"])
    write(lab, "vm-print01", "vm-print01: after again")
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": [ids["vm-print01"]]})
        session.owner.call("vm_remove", {"ids": [ids["vm-print01"]]})
    assert site.vm_ids("hv03", ["vm-print01"]) == {}
    result = restore(site, "vm-print01")
    assert result["notes"] and "not registered" in result["notes"][0]
    assert site.vm_ids("hv03", ["vm-print01"]) == ids
    assert read(lab, "vm-print01") == "vm-print01: before"


def mount(site, **options):
    with site.session("hv03") as session:
        engine = MountEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
        return engine.run(site.backup_name, **options)


def test_mount_shows_the_backup_and_unmount_leaves_nothing(site, lab):
    planned = mount(site, vm="vm-file01", check_mode=True)
    assert planned["changed"] and not leftovers(lab)
    mounted = mount(site, vm="vm-file01")
    assert mounted["changed"] and len(mounted["mounts"]) == 1
    where = mounted["mounts"][0]
    vhd = next(f for f in where["files"] if f["backed_up"].lower().endswith(".vhdx"))
    inside = vhd["mounted"]
    assert inside == where["access_path"] + vhd["backed_up"][len("J:\\"):]
    with site.session("hv03") as session:
        content = session.owner.call("file_read", {"paths": [inside]}).result["files"][0]["content"]
    assert "vm-file01: before" in content
    assert "smhv_mount_" in json.dumps(lab.state()) and any(where["access_path"].rstrip("\\") in item for item in leftovers(lab))
    assert not mount(site, vm="vm-file01")["changed"]
    unmounted = mount(site, vm="vm-file01", state="unmounted")
    assert unmounted["changed"]
    assert leftovers(lab) == []
    assert not mount(site, vm="vm-file01", state="unmounted")["changed"]


def test_alternate_host_with_a_path_map(site, lab):
    """The seed's J:\\ -> K:\\ example, here K:\\ on hv03 -> a folder of hv01's CSV: the VM is gone from hv03
    (its host lost), and comes back on hv01 with its id, its files under the new path, the backup's data, and
    highly available in cluster hvclus01."""
    ids = site.vm_ids("hv03", ["vm-print01"])
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": [ids["vm-print01"]]})
        session.owner.call("vm_remove", {"ids": [ids["vm-print01"]]})
    target = "C:\\ClusterStorage\\Volume1\\restored\\"
    planned = restore(site, "vm-print01", target="hv01", path_map={"K:\\": target}, check_mode=True)
    assert planned["alternate"] and [plan["method"] for plan in planned["luns"]] == ["file_copy"]
    assert all(path.startswith(target) for path in planned["luns"][0]["destinations"])
    result = restore(site, "vm-print01", target="hv01", path_map={"K:\\": target})
    assert result["vm"]["state"] == "Running" and result["target_host"].lower() == "hv01"
    on_hv01 = next(vm for vm in lab.state()["hosts"]["hv01"]["vms"] if vm["name"] == "vm-print01")
    assert on_hv01["id"] == ids["vm-print01"] and all(path.startswith(target) for path in on_hv01["vhd_paths"])
    assert on_hv01["config_path"].startswith(target)
    assert result["vm"]["cluster_group"] == "vm-print01"  # highly available again on hvclus01
    with site.session("hv01") as other:
        registered = other.owner.call("vm_inventory", {"ids": [ids["vm-print01"]]}).result["vms"][0]
    assert registered["clustered"] and registered["cluster_group"] == "vm-print01"
    assert read(lab, "vm-print01") == "vm-print01: before"
    assert leftovers(lab) == []


def test_modules_run_check_mode_then_apply(site, lab):
    """smhv_restore and smhv_mount through their modules' code (AnsibleModule aside): params from the inventory."""
    common = dict(site.common, hyperv_host="hv03")
    write(lab, "vm-file02", "vm-file02: module")
    with site.session("hv03") as session:  # a lab script (hyperv/backup_ops.py): it writes its first argument to a file
        session.owner.call("file_write", {"path": "C:\\scripts\\restored.cmd", "content": "write C:\\scripts\\out.txt %1\n",
                                          "create_dirs": True})
    script = {"path": "C:\\scripts\\restored.cmd", "arguments": ["$VMSnapshot"], "timeout": 60}
    params = dict(common, vm="vm-file02", backup=site.backup_name, force=False, start=True, target_host=None, path_map=None,
                  post_script=script, verify_snapshot=True)
    planned = smhv_restore.run(params, True)
    assert planned["actions"][-1].startswith("run the post-script")
    assert planned["warnings"] == [] and read(lab, "vm-file02") == "vm-file02: module"
    done = smhv_restore.run(params, False)
    assert done["vm"]["state"] == "Running" and read(lab, "vm-file02") == "vm-file02: before"
    assert done["post_script"]["exit_code"] == 0
    with site.session("hv03") as session:
        out = session.owner.call("file_read", {"paths": ["C:\\scripts\\out.txt"]}).result["files"][0]["content"]
    assert out.strip() == site.backup_name
    params = dict(common, backup=site.backup_name, vm="vm-file02", state="mounted", mount_root="C:\\SMHV\\Mounts", access="folder",
                  drive_letters=None)
    assert smhv_mount.run(params, True)["changed"] and not leftovers(lab)
    assert smhv_mount.run(params, False)["changed"]
    assert smhv_mount.run(dict(params, state="unmounted"), False)["changed"]
    assert leftovers(lab) == []
