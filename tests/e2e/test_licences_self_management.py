"""Issue 22's licence check (seed §3.1) and self-management guard (seed appendix), through the lab's real protocols.

Licences: the lab's ONTAP serves GET /api/cluster/licensing/licenses as ONTAP does (licensed packages by default,
`state=unlicensed` for the others, 404 for a name that is no package), read here with netapp-ontap's LicensePackage;
smhv_host's registration fails with LICENSE_MISSING naming the licence, the cluster and what it blocks, reading each
cluster's licences once; smhv_host_info reports what a cluster lacks. A restore reads no licence when it succeeds (the
round-trip budget is unchanged); when the lab's ONTAP refuses its SnapRestore or LUN clone for want of the licence, the
restore fails with LICENSE_MISSING, is undone, and the VM runs with its data as before; so does a mount's LUN clone.

Self-management: a VM whose network adapter has one of the controller's addresses (127.0.0.1 in the lab, the address
the controller reaches the lab's WinRM from) is the controller's own VM; restoring it is refused with CONTROLLER_VM in
check mode and for real, and nothing changes. Another address, or the VM off (no addresses reported), restores.
"""
from __future__ import annotations

import pytest
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import LicensePackage

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import fetch
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import describe_scope, register
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_mount
from e2e.backup_support import LabSite
from e2e.restore_support import SNAPINFO, inventory, leftovers, read, restore, shape, write

LICENCES = "/api/cluster/licensing/licenses"
VM = "vm-print01"  # alone on its LUN: a LUN-level restore (SnapRestore)
SHARED = "vm-file01"  # shares its LUN: a file copy from a LUN clone (FlexClone)
DATA = "C:\\data\\ledger.txt"


def licence_reads(lab):
    """{cluster: GET requests on the licensing collection so far}."""
    return dict((cluster, sum(r["count"] for r in served if r["method"] == "GET" and r["path"].startswith(LICENCES)))
                for cluster, served in lab.control("GET", "/ontap-requests").items())


def registered(site, scope="hv03"):
    with site.session(scope) as session:
        return register(session, site.storage(), SNAPINFO, "C:\\SMHV\\Reports", create_snapinfo=True)


@pytest.fixture(scope="module")
def site(lab):
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "guard", [VM, SHARED])
    for vm in (VM, SHARED):
        write(lab, vm, DATA, "%s: before" % vm)
    backup = site.backup("hv03", "guard", backup_method="checkpoint")
    assert backup["backup"]["status"] == "ok", backup
    site.backup_name = backup["backup"]["name"]
    for vm in (VM, SHARED):
        write(lab, vm, DATA, "%s: after" % vm)
    yield site
    lab.control("POST", "/licences", {"unlicensed": []})
    lab.control("POST", "/vm", {"vm": VM, "ip_addresses": []})


def test_the_lab_lists_licensed_packages_by_default_and_unlicensed_ones_on_request(site, lab):
    lab.control("POST", "/licences", {"cluster": "cluster-a", "unlicensed": ["flexclone"]})
    try:
        endpoint = site.storage()._clusters.endpoint("cluster-a")  # pylint: disable=protected-access
        with endpoint.call("read licences"):
            default = dict((r["name"], r["state"]) for r in fetch(LicensePackage, fields="name,state,scope"))
            others = dict((r["name"], r["state"]) for r in fetch(LicensePackage, state="unlicensed", fields="name,state"))
            with pytest.raises(NetAppRestError) as missing:
                LicensePackage(name="nosuchpackage").get()
        assert default["snaprestore"] == default["iscsi"] == "compliant" and "flexclone" not in default
        assert others == {"flexclone": "unlicensed"}
        assert missing.value.http_err_response.http_response.status_code == 404
    finally:
        lab.control("POST", "/licences", {"unlicensed": []})


@pytest.mark.parametrize("package, title, blocks", [("flexclone", "FlexClone", "mounts"), ("iscsi", "iSCSI", "iSCSI"),
                                                    ("snaprestore", "SnapRestore", "LUN-level restores")])
def test_registration_names_the_missing_licence_its_cluster_and_what_it_blocks(site, lab, package, title, blocks):
    lab.control("POST", "/licences", {"cluster": "cluster-b", "unlicensed": [package]})
    try:
        before = licence_reads(lab)
        with pytest.raises(SmhvError) as error:
            registered(site)
        after = licence_reads(lab)
    finally:
        lab.control("POST", "/licences", {"unlicensed": []})
    assert error.value.code == "LICENSE_MISSING"
    for phrase in (title, "cluster-b", blocks, "hv03"):
        assert phrase in error.value.message, (phrase, error.value.message)
    assert error.value.details["missing"] == [{"cluster": "cluster-b", "licence": package}]
    assert "cluster-a" not in error.value.message
    assert dict((c, after[c] - before[c]) for c in after) == {"cluster-a": 1, "cluster-b": 1}  # one read per cluster and run


def test_registration_passes_when_licensed_and_host_info_reports_what_a_cluster_lacks(site, lab):
    assert registered(site)["changed"] is False
    lab.control("POST", "/licences", {"cluster": "cluster-b", "unlicensed": ["snapvault"]})
    try:
        assert registered(site)["changed"] is False  # SnapVault is not needed to register
        with site.session("hv03") as session:
            facts = describe_scope(session, site.storage())
    finally:
        lab.control("POST", "/licences", {"unlicensed": []})
    assert facts["licences"]["cluster-b"]["missing"] == ["snapvault"]
    assert facts["licences"]["cluster-a"]["missing"] == [] and facts["licences"]["cluster-a"]["packages"]["flexclone"] == "compliant"
    assert any("cluster-b" in w and "snapvault" in w for w in facts["warnings"]), facts["warnings"]


def test_restoring_the_controllers_own_vm_is_refused_and_changes_nothing(site, lab):
    lab.control("POST", "/vm", {"vm": VM, "ip_addresses": ["fe80::1", "127.0.0.1"]})
    try:
        before = shape(inventory(site, VM))
        for check_mode in (True, False):
            with pytest.raises(SmhvError) as error:
                restore(site, VM, check_mode=check_mode)
            assert error.value.code == "CONTROLLER_VM"
            for phrase in (VM, "hv03", "127.0.0.1", "another controller"):
                assert phrase in error.value.message, (phrase, error.value.message)
            assert error.value.details["addresses"] == ["127.0.0.1"]
        assert shape(inventory(site, VM)) == before and before["state"] == "Running"
        lab.control("POST", "/vm", {"vm": VM, "ip_addresses": ["10.20.30.40"]})
        planned = restore(site, VM, check_mode=True)
        assert planned["changed"] and any("stop VM %s" % VM in action for action in planned["actions"]), planned["actions"]
    finally:
        lab.control("POST", "/vm", {"vm": VM, "ip_addresses": []})


def test_a_vm_that_is_off_reports_no_addresses(site, lab):
    lab.control("POST", "/vm", {"vm": VM, "ip_addresses": ["127.0.0.1"], "state": "Off"})
    try:
        assert inventory(site, VM)["ip_addresses"] == []
        assert restore(site, VM, check_mode=True, force=True)["changed"]
    finally:
        lab.control("POST", "/vm", {"vm": VM, "ip_addresses": [], "state": "Running"})


@pytest.mark.parametrize("vm, package, title", [(VM, "snaprestore", "SnapRestore"), (SHARED, "flexclone", "FlexClone")])
def test_a_restore_ontap_refuses_for_want_of_a_licence_says_which_and_is_undone(site, lab, vm, package, title):
    planned = restore(site, vm, check_mode=True)
    assert planned["changed"] and {"snaprestore": "lun", "flexclone": "file_copy"}[package] in [p["method"] for p in planned["luns"]]
    before = shape(inventory(site, vm))
    lab.control("POST", "/licences", {"cluster": "cluster-a", "unlicensed": [package]})
    try:
        with pytest.raises(SmhvError) as error:
            restore(site, vm)
    finally:
        lab.control("POST", "/licences", {"unlicensed": []})
    assert error.value.code == "LICENSE_MISSING", error.value
    assert error.value.details["missing"] == [{"cluster": "cluster-a", "licence": package}]
    for phrase in (title, "cluster-a"):
        assert phrase in error.value.message, (phrase, error.value.message)
    assert shape(inventory(site, vm)) == before and before["state"] == "Running"
    assert read(lab, vm, DATA) == ("%s: after" % vm, True)
    assert leftovers(lab) == []


def test_a_mount_ontap_refuses_for_want_of_flexclone_says_so_and_leaves_nothing(site, lab):
    mount = dict(site.common, hyperv_host="hv03", backup=site.backup_name, vm=SHARED, state="mounted",
                 mount_root="C:\\SMHV\\Mounts", access="folder", drive_letters=None)
    lab.control("POST", "/licences", {"cluster": "cluster-a", "unlicensed": ["flexclone"]})
    try:
        with pytest.raises(SmhvError) as error:
            smhv_mount.run(mount, False)
    finally:
        lab.control("POST", "/licences", {"unlicensed": []})
    assert error.value.code == "LICENSE_MISSING", error.value
    assert error.value.details["missing"] == [{"cluster": "cluster-a", "licence": "flexclone"}] and "FlexClone" in error.value.message
    assert leftovers(lab) == []
