"""smhv_failover onto an active DR site (the seed's "secondary site is an active site with its own virtual machine LUNs
and SnapInfo LUN"), on the lab's topologies/dr_active.yml: hvdr01 runs vm-drapp01 from its own LUN on cluster-b, is
registered with its own SnapInfo at S:\\SnapInfo and has backups of its own dataset 'drapps'. hv03 fails over onto it with
site A down, its SnapInfo brought in beside hvdr01's at R:\\SnapInfo.

The data of hv03's VMs are as in test_failover.py (backup 1 replicated with 'before', backup 2 not): they must come up on
hvdr01 with 'before', while hvdr01's registration, catalog, datasets, backups and VM stay as they were, and smhv_backup_info
of hvdr01 lists both scopes' backups and VMs.
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.info import backup_info
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_failover
from e2e.backup_support import LabSite
from e2e.restore_support import leftovers, read, write
from e2e.test_failover import DATA, VMS, differences, params, registered, seen, site_a_down
from lab_fixture import running_lab
from smhv_lab.topology import DEFAULT_TOPOLOGY

OWN_SNAPINFO = "S:\\SnapInfo"  # hvdr01's, and hv03's at site A
BESIDE = "R:\\SnapInfo"  # where hv03's SnapInfo comes in on hvdr01
DR_VM = "vm-drapp01"


@pytest.fixture(scope="module")
def activelab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("activelab") / "state", DEFAULT_TOPOLOGY.parent / "dr_active.yml") as handle:
        yield handle


def active_params(site, lab, **changes):
    return params(site, lab, **dict({"snapinfo_path": BESIDE}, **changes))


def catalog_of(site, scope, path):
    """(scope record name, datasets, [(dataset, backup, status)], imported catalogs) of the catalog at `path` on `scope`."""
    with site.session(scope) as session:
        catalog = Catalog(HostRepository(session.owner, path))
        return (catalog.scope().name, catalog.list_datasets(), [(s.dataset, s.name, s.status) for s in catalog.list_backups()],
                [(r.source_scope, r.snapinfo_path) for r in catalog.imported_catalogs()])


def prepare(lab):
    """hvdr01 active: registered with its own SnapInfo, vm-drapp01 in its dataset 'drapps' backed up twice. Then hv03 as in
    test_failover.prepare: backup 1 replicated ('before'), backup 2 not ('after'), the SnapInfo mirror updated, its VMs lost
    with site A, whose endpoints drop every request."""
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    with site.session("hvdr01") as session:
        session.owner.call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
    site.register("hvdr01", OWN_SNAPINFO)
    site.dataset("hvdr01", OWN_SNAPINFO, "drapps", [DR_VM])
    write(lab, DR_VM, DATA, "%s: its own" % DR_VM)
    site.dr_backups = []
    for _round in range(2):
        done = site.backup("hvdr01", "drapps", backup_method="checkpoint")
        assert done["backup"]["status"] == "ok", done
        site.dr_backups.append(done["backup"]["name"])
        time.sleep(1.1)
    site.register("hv03", OWN_SNAPINFO)
    site.dataset("hv03", OWN_SNAPINFO, "dr", VMS)
    for vm in VMS:
        write(lab, vm, DATA, "%s: before" % vm)
    first = site.backup("hv03", "dr", backup_method="checkpoint", update_snapmirror=True)
    assert first["backup"]["status"] == "ok", first
    for vm in VMS:
        write(lab, vm, DATA, "%s: after" % vm)
    time.sleep(1.1)
    second = site.backup("hv03", "dr", backup_method="checkpoint")
    assert second["backup"]["status"] == "ok", second
    storage = site.storage()
    (snapinfo_mirror,) = storage.snapmirror.find(destination_path="svm_dr:vol_snapinfo_dr")
    storage.snapmirror.update(snapinfo_mirror)
    site.first, site.second = first["backup"]["name"], second["backup"]["name"]
    site.ids = site.vm_ids("hv03", VMS)
    site.dr_id = site.vm_ids("hvdr01", [DR_VM])[DR_VM]
    site.own_catalog = catalog_of(site, "hvdr01", OWN_SNAPINFO)
    with site.session("hv03") as session:
        session.owner.call("vm_stop", {"ids": sorted(site.ids.values()), "turn_off": True})
        session.owner.call("vm_remove", {"ids": sorted(site.ids.values())})
    site.down = site_a_down(lab)
    return site


def assert_failed_over_beside(site, lab):
    """hv03's VMs run on hvdr01 with the recovery point's data; hvdr01's own registration, catalog and VM are as they were,
    its catalog records hv03's beside it, and hv03's catalog is whole at R:\\SnapInfo."""
    assert registered(lab, "hvdr01") == sorted([(name, site.ids[name], "Running") for name in VMS] + [(DR_VM, site.dr_id, "Running")])
    for vm in VMS:
        assert read(lab, vm, DATA) == ("%s: before" % vm, True)
    assert read(lab, DR_VM, DATA) == ("%s: its own" % DR_VM, True)
    with site.session("hvdr01") as session:
        assert session.registration()["snapinfo_path"] == OWN_SNAPINFO
    name, datasets, backups, imported = catalog_of(site, "hvdr01", OWN_SNAPINFO)
    assert (name, datasets, backups) == site.own_catalog[:3] and [b[1] for b in backups] == site.dr_backups
    assert imported == [("hv03", BESIDE)]
    name, datasets, backups, imported = catalog_of(site, "hvdr01", BESIDE)
    assert (name, datasets, [b[1] for b in backups], imported) == ("hv03", ["dr"], [site.first, site.second], [])
    mirrors = {m["destination"]: m["state"] for m in lab.state()["ontap"]["cluster-b"]["snapmirrors"]}
    assert mirrors["svm_dr:vol_hv03_dr"] == "broken_off" and mirrors["svm_dr:vol_snapinfo_dr"] == "broken_off"
    assert leftovers(lab) == [] and "smhv_drplan_" not in str(lab.state())


@pytest.fixture(scope="module")
def beside(activelab):
    lab = activelab
    site = prepare(lab)
    before = lab.state()
    site.planned = smhv_failover.run(active_params(site, lab), True)
    site.state_changes = differences(before, lab.state())
    site.calls_to_a = seen(lab, site.down)
    site.result = smhv_failover.run(active_params(site, lab), False)
    site.calls_to_a = seen(lab, site.down) - site.calls_to_a
    yield site
    lab.control("DELETE", "/faults")


def test_check_mode_says_the_snapinfo_comes_in_beside_and_changes_nothing(beside):
    assert beside.state_changes == []
    snapinfo = beside.planned["plan"]["snapinfo"]
    assert (snapinfo["action"], snapinfo["path"], snapinfo["access_path"], snapinfo["beside"]) == ("restore", BESIDE, "R:\\", OWN_SNAPINFO)
    assert "hvdr01 keeps its own SnapInfo S:\\SnapInfo, whose catalog records the catalog of hv03 at R:\\SnapInfo beside it" in \
        beside.planned["actions"][0]
    assert beside.planned["plan"] == beside.result["plan"] and beside.planned["actions"] == beside.result["actions"]


def test_failover_brings_hv03_in_beside_hvdr01s_own_snapinfo(beside, activelab):
    assert_failed_over_beside(beside, activelab)
    assert beside.calls_to_a == 0
    result = beside.result
    assert sorted((vm["name"], vm["outcome"], vm["state"]) for vm in result["vms"]) == [(name, "restored", "Running") for name in VMS]
    assert result["recovery_points"][0]["backup"] == beside.first


def test_hvdr01_lists_both_scopes_backups_and_vms(beside):
    """SMHV's Get-VMsFromBackup on the active DR host: its own VM and the primary's, each with the scope it came from."""
    with Scopes(beside.common["winrm"], beside.common["host_addresses"]) as scopes:
        info = backup_info(scopes, None, "hvdr01", gather=["vms_in_backups", "backups", "datasets", "due"])
        only_sql = backup_info(scopes, None, "hvdr01", gather=["backups"], vm="vm-print01")
    assert sorted((vm["name"], vm["vm_id"], tuple(vm["datasets"]), vm.get("source_scope"), vm["in_scope_now"])
                  for vm in info["vms_in_backups"]) == sorted(
        [(name, beside.ids[name], ("dr",), "hv03", True) for name in VMS] + [(DR_VM, beside.dr_id, ("drapps",), None, True)])
    assert [(b["name"], b.get("source_scope")) for b in info["backups"]] == \
        [(name, None) for name in beside.dr_backups] + [(beside.first, "hv03"), (beside.second, "hv03")]
    assert [d["name"] for d in info["datasets"]] == ["drapps"]  # hv03's datasets and policies stay hv03's
    assert info["imported_catalogs"][0]["source_scope"] == "hv03" and info["imported_catalogs"][0]["snapinfo_path"] == BESIDE
    assert [(b["name"], b["source_scope"]) for b in only_sql["backups"]] == [(beside.first, "hv03"), (beside.second, "hv03")]


def test_a_second_failover_changes_nothing(beside, activelab):
    again = smhv_failover.run(active_params(beside, activelab), False)
    assert again["changed"] is False, again["actions"]
    assert again["plan"]["snapinfo"]["action"] == "none"
    assert_failed_over_beside(beside, activelab)


def test_the_snapinfo_must_not_go_on_the_dr_scopes_own_disk(beside, activelab):
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(active_params(beside, activelab, snapinfo_path="S:\\SnapInfo_hv03"), True)
    assert error.value.code == "INVALID_ARGUMENT" and "another drive letter or CSV than S:\\" in error.value.message


FAULTS = {
    # a fault stopping the first run, and whether the journal (in hvdr01's own SnapInfo) was open by then
    "snapinfo": ({"target": "ontap", "kind": "http_error", "match": {
        "cluster": "cluster-b", "method": "POST", "path": "/api/private/cli/volume/snapshot/restore-file"}}, False),
    "restore": ({"target": "agent", "kind": "drop", "match": {"host": "hvdr01", "op": "vm_import_batch"}}, True),
}


@pytest.mark.parametrize("phase", sorted(FAULTS))
def test_a_fault_then_a_rerun_finishes_it_beside(activelab, phase):
    lab = activelab
    site = prepare(lab)
    rule, journaled = FAULTS[phase]
    lab.control("POST", "/faults", dict(rule, times=1))
    with pytest.raises(SmhvError) as error:
        smhv_failover.run(active_params(site, lab), False)
    assert error.value.details["phase"] == phase, error.value
    if journaled:
        assert "stays open in %s" % OWN_SNAPINFO in error.value.message
    again = smhv_failover.run(active_params(site, lab), False)
    assert again["changed"] and again["resumed"] == journaled
    assert_failed_over_beside(site, lab)
    lab.control("DELETE", "/faults")


def test_readiness_says_the_snapinfo_comes_in_beside(beside, activelab):
    report = smhv_failover.run(active_params(beside, activelab, action="readiness", max_lag_seconds=None), False)
    checks = {check["check"]: check for check in report["checks"]}
    assert "hvdr01 keeps its own SnapInfo S:\\SnapInfo, this one comes in beside it at R:\\SnapInfo" in checks["snapinfo_mirror"]["detail"]
