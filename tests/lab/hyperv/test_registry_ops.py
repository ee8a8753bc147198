"""registry_write in the lab: only SMHV's keys, idempotent, check mode, and HKLM:\\Cluster shared by
every node of a failover cluster (the cluster database hive) while its cluster service runs."""
from __future__ import annotations

import pytest

from smhv_lab.world.windows import FailoverCluster, WindowsHost

STANDALONE_KEY = "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\hvx"
CLUSTER_KEY = "HKLM:\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\hvc1"
SETTINGS = {"snapinfo_path": {"type": "String", "data": "J:\\SnapInfo"},
            "snapinfo_snaps_count": {"type": "DWord", "data": 30}}
RUNNING = {"status": "Running", "start_type": "Automatic"}


@pytest.fixture
def cluster(world):
    world.failover_clusters["hvc1"] = FailoverCluster(name="hvc1", nodes=["hv1", "hv2"], owner_node="hv1")
    world.hosts["hv1"].cluster = "hvc1"
    world.hosts["hv1"].services["ClusSvc"] = dict(RUNNING)
    world.hosts["hv2"] = WindowsHost(name="hv2", cluster="hvc1", services={"ClusSvc": dict(RUNNING)})
    return world.failover_clusters["hvc1"]


def _values(call, key, host="hv1"):
    records = call("host_facts", host=host)["result"]["registry"]
    return next((r["values"] for r in records if r["key"].lower() == key.lower()), None)


def test_sets_values_once_then_reports_unchanged(call):
    first = call("registry_write", {"key": STANDALONE_KEY, "values": SETTINGS})
    assert first["changed"] and first["result"]["existed"] is False and first["result"]["exists"] is True
    assert sorted(first["result"]["set"]) == ["snapinfo_path", "snapinfo_snaps_count"]
    assert _values(call, STANDALONE_KEY) == {"snapinfo_path": "J:\\SnapInfo", "snapinfo_snaps_count": 30}
    again = call("registry_write", {"key": STANDALONE_KEY, "values": SETTINGS})
    assert not again["changed"] and again["result"]["set"] == [] and again["result"]["existed"] is True


def test_a_value_of_another_type_is_rewritten(call):
    call("registry_write", {"key": STANDALONE_KEY, "values": {"snapinfo_snaps_count": {"type": "String", "data": "30"}}})
    answer = call("registry_write", {"key": STANDALONE_KEY, "values": SETTINGS})
    assert answer["changed"] and "snapinfo_snaps_count" in answer["result"]["set"]
    assert _values(call, STANDALONE_KEY)["snapinfo_snaps_count"] == 30


def test_check_mode_plans_without_writing(call):
    answer = call("registry_write", {"key": STANDALONE_KEY, "values": SETTINGS}, check_mode=True)
    assert answer["changed"] and answer["result"]["values"]["snapinfo_snaps_count"] == 30
    assert _values(call, STANDALONE_KEY) is None


def test_remove_values_and_delete_the_key(call):
    call("registry_write", {"key": STANDALONE_KEY, "values": SETTINGS})
    removed = call("registry_write", {"key": STANDALONE_KEY, "remove": ["SNAPINFO_PATH", "missing"]})
    assert removed["changed"] and removed["result"]["removed"] == ["snapinfo_path"]
    assert _values(call, STANDALONE_KEY) == {"snapinfo_snaps_count": 30}
    planned = call("registry_write", {"key": STANDALONE_KEY, "delete_key": True}, check_mode=True)
    assert planned["changed"] and _values(call, STANDALONE_KEY) is not None
    deleted = call("registry_write", {"key": STANDALONE_KEY, "delete_key": True})
    assert deleted["changed"] and deleted["result"] == {"key": STANDALONE_KEY, "existed": True, "exists": False, "values": {},
                                                        "set": [], "removed": []}
    assert _values(call, STANDALONE_KEY) is None
    assert not call("registry_write", {"key": STANDALONE_KEY, "delete_key": True})["changed"]


@pytest.mark.parametrize("key", ["HKLM:\\SOFTWARE\\Microsoft\\Windows", "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V2",
                                 "HKCU:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\hv1"])
def test_only_smhv_keys_can_be_written(call, key):
    answer = call("registry_write", {"key": key, "values": SETTINGS})
    assert not answer["ok"] and answer["error"]["code"] == "BAD_REQUEST" and answer["error"]["details"]["key"] == key


def test_an_smhv_root_itself_cannot_be_deleted(call):
    answer = call("registry_write", {"key": "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V", "delete_key": True})
    assert answer["error"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("values", [{"n": {"type": "DWord", "data": -1}}, {"n": {"type": "DWord", "data": 2 ** 31}},
                                    {"n": {"type": "DWord", "data": "30"}}, {"n": {"type": "Binary", "data": "AA=="}},
                                    {"n": "30"}, ["n"]])
def test_bad_values_are_refused(call, values):
    answer = call("registry_write", {"key": STANDALONE_KEY, "values": values})
    assert answer["error"]["code"] == "BAD_REQUEST" and answer["error"]["details"]["argument"] == "values"


def test_the_cluster_hive_is_shared_by_every_node(call, cluster):
    assert call("registry_write", {"key": CLUSTER_KEY, "values": SETTINGS}, host="hv1")["changed"]
    assert _values(call, CLUSTER_KEY, host="hv2") == {"snapinfo_path": "J:\\SnapInfo", "snapinfo_snaps_count": 30}
    assert not call("registry_write", {"key": CLUSTER_KEY, "values": SETTINGS}, host="hv2")["changed"]
    assert _values(call, STANDALONE_KEY, host="hv2") is None


def test_a_node_without_its_cluster_service_sees_no_cluster_hive(call, world, cluster):
    call("registry_write", {"key": CLUSTER_KEY, "values": SETTINGS}, host="hv1")
    world.hosts["hv2"].services["ClusSvc"]["status"] = "Stopped"
    assert _values(call, CLUSTER_KEY, host="hv2") is None
    answer = call("registry_write", {"key": CLUSTER_KEY, "values": SETTINGS}, host="hv2")
    assert answer["error"]["code"] == "AGENT_ERROR"
