"""smhv_restore in place on failover cluster hvclus01 (real WinRM and ONTAP REST on the lab): vm-web02 runs on
hv02, not on the node that coordinates; its CSV LUN holds other VMs, so its files are copied back from a LUN clone
connected to hv02. The VM's cluster role is removed for the restore and added again; its data is the backup's."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from e2e.backup_support import LabSite
from e2e.restore_support import leftovers

SNAPINFO = "S:\\SnapInfo"
DATA = "C:\\data\\orders.db"


def read(lab, vm):
    return lab.control("GET", "/guest-data?vm=%s&path=%s" % (vm, "C%3A%5Cdata%5Corders.db"))["data"]


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", ["vm-web01", "vm-web02"])
    lab.control("POST", "/guest-data", {"vm": "vm-web02", "path": DATA, "data": "order 1: paid", "in_flight": False})
    backup = site.backup("hvclus01", "web")
    assert backup["backup"]["status"] == "ok", backup
    lab.control("POST", "/guest-data", {"vm": "vm-web02", "path": DATA, "data": "order 1: refunded", "in_flight": False})
    return site


def test_clustered_vm_in_place(site, lab):
    with site.session("hvclus01") as session:
        engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
        planned = engine.run("vm-web02", check_mode=True)
        assert [plan["method"] for plan in planned["luns"]] == ["file_copy"]  # a CSV LUN: never the whole LUN
        assert planned["target_host"].lower() == "hv02" and any("cluster role" in action for action in planned["actions"])
        engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
        result = engine.run("vm-web02")
    assert result["vm"]["state"] == "Running" and result["vm"]["cluster_group"] == "vm-web02"
    assert read(lab, "vm-web02") == "order 1: paid"
    state = lab.state()
    assert any(vm["name"] == "vm-web02" for vm in state["hosts"]["hv02"]["vms"])
    with site.session("hvclus01") as session:
        replies = session.call_nodes("vm_inventory", {"names": ["vm-web02"], "require_all": False})
    registered = next(vm for reply in replies.values() for vm in reply.result["vms"])
    assert registered["clustered"] and registered["owner_node"].lower() == "hv02"
    assert leftovers(lab) == []
