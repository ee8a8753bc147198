"""Restores from a crash-consistent backup of hv03 on the lab (real WinRM and ONTAP REST) along the paths that were
proven only from application-consistent ones: a deleted VM registered again, a VM brought back on another host
with a path map, and a VM that has left every dataset since the backup."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from e2e.backup_support import LabSite
from e2e.restore_support import SNAPINFO, inventory, leftovers, read, restore, write

LEDGER = "C:\\data\\ledger.txt"
VMS = ["vm-print01", "vm-file01", "vm-file02", "vm-sql01"]


@pytest.fixture(scope="module")
def site(lab):
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "crashed", VMS)
    for vm in VMS:
        write(lab, vm, LEDGER, "%s: at backup" % vm)
    backup = site.backup("hv03", "crashed", backup_type="crash")
    assert backup["backup"]["status"] == "ok" and backup["backup"]["type"] == "crash", backup
    assert backup["backup"]["method"] != "checkpoint"  # a crash-consistent backup makes no checkpoint
    for vm in VMS:
        write(lab, vm, LEDGER, "%s: after" % vm)
    yield site
    lab.reset()


def remove_vm(site, vm):
    vm_id = site.vm_ids("hv03", [vm])[vm]
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": [vm_id]})
        session.owner.call("vm_remove", {"ids": [vm_id]})
    assert inventory(site, vm) is None
    return vm_id


def test_a_deleted_vm_is_registered_again_from_a_crash_consistent_backup(site, lab):
    vm_id = remove_vm(site, "vm-print01")
    result = restore(site, "vm-print01")
    assert result["notes"] and "not registered" in result["notes"][0]
    again = inventory(site, "vm-print01")
    assert again["id"] == vm_id and again["state"] == "Running"
    assert read(lab, "vm-print01", LEDGER) == ("vm-print01: at backup", True)
    assert leftovers(lab) == []


def test_a_vm_comes_back_on_another_host_from_a_crash_consistent_backup(site, lab):
    vm_id = remove_vm(site, "vm-sql01")
    target = "C:\\ClusterStorage\\Volume2\\restored_crash\\"
    with site.session("hv03") as session, site.session("hv01") as other:
        engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)), target=other)
        result = engine.run("vm-sql01", path_map={"L:\\": target})
    assert result["alternate"] and result["target_host"].lower() == "hv01" and result["vm"]["state"] == "Running"
    on_hv01 = next(vm for vm in lab.state()["hosts"]["hv01"]["vms"] if vm["name"] == "vm-sql01")
    assert on_hv01["id"] == vm_id and all(path.startswith(target) for path in on_hv01["vhd_paths"])
    assert read(lab, "vm-sql01", LEDGER) == ("vm-sql01: at backup", True)
    assert leftovers(lab) == []


def test_a_vm_that_left_every_dataset_is_restored_from_its_backup(site, lab):
    with site.session("hv03") as session:  # vm-file02 leaves the only dataset it was in
        site.catalog(session, SNAPINFO).delete_dataset("crashed")
    site.dataset("hv03", SNAPINFO, "crashed", ["vm-print01", "vm-file01"])
    with site.session("hv03") as session:
        datasets = site.catalog(session, SNAPINFO).get_datasets()
    assert datasets and not any(member.name == "vm-file02" for dataset in datasets for member in dataset.members)
    result = restore(site, "vm-file02")
    assert result["vm"]["state"] == "Running"
    assert read(lab, "vm-file02", LEDGER) == ("vm-file02: at backup", True)
    assert read(lab, "vm-file01", LEDGER) == ("vm-file01: after", True)  # its neighbour on J: untouched
    assert leftovers(lab) == []
