"""A backup checks both sides' credentials before it touches a VM (the lab, real WinRM and ONTAP REST).

The checkpoint method's first ONTAP call used to be its map step, after the checkpoints: a wrong ONTAP password was found
with every VM checkpointed. Now each storage system is asked who it is first (step credentials); the hosts' account is
checked by the first call of all, the scope's session reading the coordinator's facts. Either refusal fails the backup
with nothing done on a host: no checkpoint, no lease, no journal, no record.
"""
from __future__ import annotations

import copy

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-web01", "vm-web02"]
# What a backup does on the hosts up to its checkpoints (what must not have run).
SIDE_EFFECTS = ("backup_checkpoint", "checkpoint_create", "file_write", "file_delete", "run_script")


@pytest.fixture(scope="module")
def site(lab):
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hvclus01", SNAPINFO)
    site.dataset("hvclus01", SNAPINFO, "web", VMS)
    return site


def backup_with(site, lab, **changes):
    """smhv_backup's code path with some connection settings changed; the error, and the agent ops the hosts ran."""
    lab.control("DELETE", "/agent-requests")
    common = copy.deepcopy(site.common)
    for system in common["storage_systems"]:
        system.update(changes.get("storage", {}).get(system["port"], {}))
    common["winrm"].update(changes.get("winrm", {}))
    bad = LabSite(lab)
    bad.common = common
    with pytest.raises(SmhvError) as failed:
        bad.backup("hvclus01", "web", backup_method="checkpoint")
    return failed.value, [request["op"] for request in lab.control("GET", "/agent-requests")["requests"]]


def untouched(site, lab):
    hosts = lab.state()["hosts"]
    assert [vm["checkpoints"] for name in ("hv01", "hv02") for vm in hosts[name]["vms"] if vm["name"] in VMS] == [[], []]
    assert site.backups("hvclus01", SNAPINFO, "web") == []
    files = lab.control("GET", "/host-files?host=hv01&path=S:%5CSnapInfo")["files"]
    assert not [path for path in files if "/journals/" in path or "/leases/" in path], sorted(files)


def test_a_wrong_ontap_password_fails_before_any_checkpoint(site, lab):
    ports = {system["port"]: {"password": "wrong"} for system in site.common["storage_systems"]}
    error, ops = backup_with(site, lab, storage=ports)
    assert error.code == "STORAGE_AUTH_FAILED" and error.details["step"] == "credentials", error.message
    assert "Check username and password" in error.message and error.details["undo"] is None
    assert not set(ops) & set(SIDE_EFFECTS), ops
    untouched(site, lab)


def test_a_wrong_password_of_one_storage_system_is_enough(site, lab):
    """The DR site's cluster, which holds none of the dataset's LUNs, refuses too: every system of storage_systems is one a
    backup may need (its SnapMirror updates run there), and a refused account is a mistake to fix, not a site that is down."""
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    error, ops = backup_with(site, lab, storage={port: {"password": "wrong"}})
    assert error.code == "STORAGE_AUTH_FAILED" and error.details["step"] == "credentials" and error.details["port"] == port
    assert not set(ops) & set(SIDE_EFFECTS), ops
    untouched(site, lab)


def test_a_wrong_winrm_password_fails_at_the_first_call(site, lab):
    error, ops = backup_with(site, lab, winrm={"password": "wrong"})
    assert error.code == "HOST_AUTH_FAILED" and "refused the credentials" in error.message, error.message
    assert ops == []
    untouched(site, lab)


def test_the_right_credentials_back_up(site, lab):
    result = site.backup("hvclus01", "web", backup_method="checkpoint")
    assert result["backup"]["status"] == "ok"
    assert [t["step"] for t in result["timings"]["steps"]][:4] == ["catalog", "method", "credentials", "lease"]
