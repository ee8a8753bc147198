"""host_registration: scope discovery, path validation, registration in the registry and the catalog."""
from __future__ import annotations

import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import (
    ScopeSession, describe_scope, register, unregister)
from unit.host.fakes import SNAPINFO_VOLUME, VM_VOLUME, FakeHost, FakeStorage, Site, factory, lun, storage_record

CLUSTER = {"name": "hvc1", "owner_node": "hv01", "nodes": [{"name": "hv01", "state": "Up"}, {"name": "hv02", "state": "Up"}],
           "csvs": [{"name": "Cluster Disk 1", "path": "C:\\ClusterStorage\\Volume1", "owner_node": "hv01", "state": "Online"}]}
CLUSTER_KEY = "HKLM:\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\hvc1"
STANDALONE_KEY = "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\hv03"
PATHS = {"S:\\": storage_record("SNAPINFO0001"), "C:\\": storage_record("HV-OS", "C:\\", netapp=False),
         "C:\\ClusterStorage\\Volume1": storage_record("CSV000000001", "C:\\ClusterStorage\\Volume1\\", csv="Cluster Disk 1")}


def vm(name, serial):
    """A vm_inventory record (every key of agent.VM_SCHEMA) whose one VHD is on the LUN `serial`."""
    vhd = "C:\\ClusterStorage\\Volume1\\%s\\disk.vhdx" % name
    return {"id": "id-" + name, "name": name, "host": "HV01", "state": "Running", "generation": 2, "clustered": True,
            "cluster_group": name, "owner_node": "hv01", "configuration_location": "C:\\", "config_path": None,
            "snapshot_location": "C:\\", "checkpoint_type": "Production", "processor_count": 2, "memory_startup_bytes": 1,
            "operational_status": ["Ok"], "migration": "", "backup_integration_enabled": True, "hard_disks": [], "passthrough_disks": [],
            "fibre_channel_hbas": [], "ip_addresses": [], "checkpoints": [], "files": [{"path": vhd, "kind": "vhd", "storage": storage_record(serial)}]}


@pytest.fixture
def site():
    return Site()


@pytest.fixture
def storage():
    return FakeStorage(luns=[lun("SNAPINFO0001", SNAPINFO_VOLUME, "snapinfo"), lun("CSV000000001", VM_VOLUME, "csv1")])


def cluster_session(site, shared=True, vms=()):
    hosts = {"hv01": FakeHost(site, "hv01", CLUSTER, PATHS, vms=list(vms)),
             "hv02": FakeHost(site, "hv02", CLUSTER, PATHS, disks=["SNAPINFO0001"] if shared else [])}
    hosts["hvc1"] = hosts["hv02"]  # the cluster name resolves to a node that is not the owner
    return ScopeSession("hvc1", {}, {}, factory(hosts))


def standalone_session(site, vms=()):
    return ScopeSession("hv03", {}, {}, factory({"hv03": FakeHost(site, "hv03", None, PATHS, vms=list(vms))}))


def writes(site, op):
    return [call for call in site.calls if call[1] == op and not call[3]]


def test_a_cluster_is_reached_through_the_owner_of_its_core_group(site):
    session = cluster_session(site)
    assert (session.kind, session.name, session.owner.name, session.key) == ("cluster", "hvc1", "hv01", CLUSTER_KEY)
    assert session.node_names == ["hv01", "hv02"] and list(session.other_nodes()) == ["hv02"]
    assert [n["owner"] for n in session.describe()["nodes"]] == [True, False]


def test_a_standalone_scope_is_named_after_the_host(site):
    session = standalone_session(site)
    assert (session.kind, session.name, session.owner_node, session.key) == ("standalone", "hv03", None, STANDALONE_KEY)
    assert session.other_nodes() == {}


def test_check_mode_plans_the_same_actions_and_writes_nothing(site, storage):
    planned = register(standalone_session(site), storage, "S:\\", "C:\\Reports", check_mode=True, create_snapinfo=True)
    assert writes(site, "file_write") == [] and writes(site, "registry_write") == [] and site.registry.get("hv03", {}) == {}
    applied = register(standalone_session(site), storage, "S:\\", "C:\\Reports", create_snapinfo=True)
    assert planned["changed"] and applied["changed"] and planned["actions"] == applied["actions"]
    assert applied["actions"] == ["create the SnapInfo repository in S:\\ with scope record S:\\smhv\\v1\\scope.json",
                                  "set report_path, snapinfo_path, snapinfo_snaps_count in registry key " + STANDALONE_KEY]
    assert site.registry["hv03"][STANDALONE_KEY] == {"snapinfo_path": "S:\\", "report_path": "C:\\Reports", "snapinfo_snaps_count": 30}
    record = json.loads(site.files["S:\\SMHV\\V1\\SCOPE.JSON"])
    assert (record["name"], record["scope_type"], record["snapinfo_copies"], record["nodes"]) == ("hv03", "standalone", 30, ["hv03"])


def test_a_second_run_changes_nothing_and_a_new_count_updates_both_places(site, storage):
    register(standalone_session(site), storage, "S:\\", "C:\\Reports", create_snapinfo=True)
    again = register(standalone_session(site), storage, "S:\\", "C:\\Reports")
    assert not again["changed"] and again["actions"] == []
    changed = register(standalone_session(site), storage, "S:\\", "C:\\Reports", snaps_count=60)
    assert changed["actions"] == ["update scope record S:\\smhv\\v1\\scope.json",
                                  "set snapinfo_snaps_count in registry key " + STANDALONE_KEY]
    assert json.loads(site.files["S:\\SMHV\\V1\\SCOPE.JSON"])["snapinfo_copies"] == 60


def test_a_cluster_is_registered_in_the_cluster_hive_on_every_node(site, storage):
    result = register(cluster_session(site), storage, "S:\\SnapInfo", "C:\\Reports", create_snapinfo=True)
    assert result["actions"][1].endswith(CLUSTER_KEY + " on every node")
    assert [call[0] for call in writes(site, "registry_write")] == ["hv01", "hv02"]
    assert site.cluster_registry[CLUSTER_KEY]["snapinfo_path"] == "S:\\SnapInfo" and site.registry == {}
    assert cluster_session(site).registration()["registered"]


@pytest.mark.parametrize("path, code, words", [
    ("C:\\SnapInfo", "NOT_ON_ONTAP", "not an ONTAP LUN"),
    ("T:\\SnapInfo", "PATH_NOT_FOUND", "no volume of host hv03"),
])
def test_snapinfo_must_be_on_an_ontap_lun(site, storage, path, code, words):
    with pytest.raises(SmhvError) as caught:
        register(standalone_session(site), storage, path, "C:\\Reports")
    assert caught.value.code == code and words in caught.value.message and path in caught.value.message
    assert writes(site, "registry_write") == [] and writes(site, "file_write") == []


def test_a_netapp_disk_unknown_to_the_configured_clusters_is_refused(site):
    with pytest.raises(SmhvError) as caught:
        register(standalone_session(site), FakeStorage(), "S:\\", "C:\\Reports")
    assert caught.value.code == "NOT_ON_ONTAP" and "storage_systems" in caught.value.message


def test_an_smb_snapinfo_is_refused(site, storage):
    session = standalone_session(site)
    session.owner.paths["\\\\fs\\share"] = storage_record(None, None, netapp=False, smb=True)
    with pytest.raises(SmhvError) as caught:
        register(session, storage, "\\\\fs\\share\\SnapInfo", "C:\\Reports")
    assert caught.value.code == "NOT_ON_ONTAP" and "SMB share" in caught.value.message


def test_a_report_path_on_a_csv_is_refused(site, storage):
    with pytest.raises(SmhvError) as caught:
        register(cluster_session(site), storage, "S:\\SnapInfo", "C:\\ClusterStorage\\Volume1\\Reports")
    assert caught.value.code == "PATH_NOT_ALLOWED" and "must not reside on a CSV" in caught.value.message
    assert "Cluster Disk 1" in caught.value.message


def test_a_cluster_snapinfo_on_a_disk_one_node_lacks_is_refused(site, storage):
    with pytest.raises(SmhvError) as caught:
        register(cluster_session(site, shared=False), storage, "S:\\SnapInfo", "C:\\Reports")
    assert caught.value.code == "PATH_NOT_ALLOWED" and caught.value.details["nodes_without_disk"] == ["hv02"]


def test_a_csv_snapinfo_needs_no_disk_check_but_warns_about_vm_data(site, storage):
    result = register(cluster_session(site, shared=False, vms=[vm("vm-web01", "CSV000000001"), vm("vm-other", "ELSEWHERE001")]),
                      storage, "C:\\ClusterStorage\\Volume1\\SnapInfo", "C:\\Reports", check_mode=True, create_snapinfo=True)
    assert result["snapinfo"]["volume_shared_with_vms"] == ["vm-web01"]
    assert any("also holds data of VM(s) vm-web01" in warning for warning in result["warnings"])
    assert not any(call[1] == "disk_rescan" for call in site.calls)


def test_a_changed_snapinfo_path_warns_that_files_are_not_moved(site, storage):
    register(standalone_session(site), storage, "S:\\", "C:\\Reports", create_snapinfo=True)
    result = register(standalone_session(site), storage, "S:\\New", "C:\\Reports", create_snapinfo=True)
    assert any("files are not moved" in warning and "S:\\New\\smhv" in warning for warning in result["warnings"])


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_path_without_a_repository_is_refused_without_create_snapinfo(site, storage, check_mode):
    with pytest.raises(SmhvError) as caught:
        register(standalone_session(site), storage, "S:\\", "C:\\Reports", check_mode=check_mode)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.message.startswith("SnapInfo path S:\\ on host hv03 holds no SnapInfo repository (S:\\smhv\\v1\\scope.json does "
                                           "not exist). Check the path for a typo;")
    assert "create_snapinfo: true" in caught.value.message and caught.value.details["option"] == "create_snapinfo"
    assert writes(site, "file_write") == [] and writes(site, "registry_write") == [] and site.registry.get("hv03", {}) == {}


def test_a_misspelt_path_does_not_move_a_registered_scope_to_an_empty_catalog(site, storage):
    register(standalone_session(site), storage, "S:\\SnapInfo", "C:\\Reports", create_snapinfo=True)
    before = len(writes(site, "file_write")), len(writes(site, "registry_write"))
    with pytest.raises(SmhvError) as caught:
        register(standalone_session(site), storage, "S:\\SnapInf0", "C:\\Reports")
    assert caught.value.code == "INVALID_ARGUMENT" and "SnapInfo path S:\\SnapInf0 on host hv03 holds no SnapInfo repository" in caught.value.message
    assert "The scope is registered with SnapInfo path S:\\SnapInfo now." in caught.value.message
    assert caught.value.details["registered_path"] == "S:\\SnapInfo"
    assert (len(writes(site, "file_write")), len(writes(site, "registry_write"))) == before
    assert site.registry["hv03"][STANDALONE_KEY]["snapinfo_path"] == "S:\\SnapInfo"
    # The right path again, without the option: its repository is found.
    again = register(standalone_session(site), storage, "S:\\SnapInfo", "C:\\Reports")
    assert not again["changed"]


def test_a_node_down_is_a_warning_not_a_failure(site, storage):
    session = cluster_session(site)
    session.other_nodes()["hv02"].unreachable = True
    result = register(session, storage, "C:\\ClusterStorage\\Volume1\\SnapInfo", "C:\\Reports", create_snapinfo=True)
    assert result["changed"] and site.cluster_registry[CLUSTER_KEY]["snapinfo_path"] == "C:\\ClusterStorage\\Volume1\\SnapInfo"
    assert [w for w in result["warnings"] if "hv02" in w] == [
        "Cluster node hv02 did not answer (Cannot reach hv02.): its VMs were not checked for data on the SnapInfo volume.",
        "Cluster node hv02 was not updated (Cannot reach hv02.); run the task again when it is up."]


def test_unregister_deletes_the_key_and_keeps_the_repository(site, storage):
    register(standalone_session(site), storage, "S:\\", "C:\\Reports", create_snapinfo=True)
    planned = unregister(standalone_session(site), check_mode=True)
    assert STANDALONE_KEY in site.registry["hv03"]
    removed = unregister(standalone_session(site))
    assert planned["actions"] == removed["actions"] == ["delete registry key " + STANDALONE_KEY]
    assert STANDALONE_KEY not in site.registry["hv03"] and "S:\\SMHV\\V1\\SCOPE.JSON" in site.files
    assert any("is kept" in warning for warning in removed["warnings"])
    again = unregister(standalone_session(site))
    assert not again["changed"] and again["actions"] == [] and again["warnings"] == []


def test_facts_report_every_node_and_a_node_that_did_not_answer(site, storage):
    register(cluster_session(site), storage, "S:\\SnapInfo", "C:\\Reports", create_snapinfo=True)
    session = cluster_session(site)
    session.other_nodes()["hv02"].unreachable = True
    described = describe_scope(session, storage)
    assert [host["reachable"] for host in described["hosts"]] == [True, False]
    assert described["hosts"][0]["ports"] == [{"port": 808, "open": True, "rules": ["SMHV"]}, {"port": 4094, "open": False, "rules": []},
                                              {"port": 4095, "open": False, "rules": []}]
    assert described["hosts"][0]["services"]["SWSvc"]["installed"] is False
    assert described["snapinfo"]["lun"]["volume"] == "vol_snapinfo" and "hv02" in described["warnings"][0]


def test_an_unknown_host_fails_with_its_code(site):
    with pytest.raises(SmhvError) as caught:
        ScopeSession("nowhere", {}, {}, factory({}))
    assert caught.value.code == "HOST_UNREACHABLE"


def test_closing_the_session_closes_every_node_at_once(site):
    session = cluster_session(site)
    nodes = dict(session.other_nodes(), hv01=session.owner)
    session.close()
    assert all(client.closed for client in nodes.values())
