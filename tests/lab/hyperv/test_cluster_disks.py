"""The DR cluster topology (topologies/dr_cluster.yml, which extends the default) and the lab's cluster_disk_add: a LUN
every node of hvdrclus01 sees becomes a CSV at the path asked for (online there on every node) or a cluster disk with a
drive letter on the owner (reserved on the other node); a node that has not discovered the LUN, a path another CSV has,
or a host outside a cluster is refused; a second call changes nothing."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from smhv_lab.faults import FaultRegistry
from smhv_lab.hyperv import AgentExecutor
from smhv_lab.topology import DEFAULT_TOPOLOGY, build_world, load_topology
from smhv_lab.winrm.executor import PipelineCommand

GIB = 1024 ** 3
DR_TOPOLOGY = DEFAULT_TOPOLOGY.parent / "dr_cluster.yml"


@pytest.fixture
def world():
    world = build_world(load_topology(DR_TOPOLOGY))
    storage = world.clusters["cluster-b"]
    storage.create_volume("svm_dr", "vol_test", "aggr1", 100 * GIB)
    for name in ("lun_a", "lun_b", "lun_c"):
        lun = storage.create_lun("vol_test", name, 10 * GIB)
        storage.map_lun(lun.path, "ig_hvdrclus01")
    return world


@pytest.fixture
def call(world):
    executor = AgentExecutor(world, FaultRegistry())

    def send(host, op, args=None, check_mode=False):
        request = agent.encode_request(op, args or {}, check_mode)
        result = executor.run_pipeline(host, [PipelineCommand(agent.AGENT_SCRIPT, True, [("Request", request)])], [])
        answer = agent.decode_response(result.output[0])
        if answer["ok"]:
            assert agent.validate_result(op, answer["result"]) == []
        return answer

    return send


def serial(world, name):
    return world.clusters["cluster-b"].lun(path="/vol/vol_test/%s" % name).serial


def test_the_dr_cluster_topology_adds_a_cluster_at_site_b_to_the_default_lab(world):
    default = load_topology(DEFAULT_TOPOLOGY)
    assert list(world.hosts) == [host["name"] for host in default["hosts"]] + ["hvdr02", "hvdr03"]
    cluster = world.failover_clusters["hvdrclus01"]
    assert (cluster.nodes, cluster.owner_node, cluster.site, cluster.csvs) == (["hvdr02", "hvdr03"], "hvdr02", "b", [])
    (igroup,) = [group for group in world.clusters["cluster-b"].igroups.values() if group.name == "ig_hvdrclus01"]
    assert sorted(igroup.initiators) == sorted(world.hosts[name].iscsi_iqn for name in ("hvdr02", "hvdr03"))
    assert "hvdrclus01" not in {c["name"] for c in default.get("failover_clusters", [])}  # the default lab is unchanged


def test_a_lun_every_node_sees_becomes_a_csv_at_the_path_asked_for(world, call):
    lun = serial(world, "lun_a")
    call("hvdr02", "disk_rescan")
    refused = call("hvdr02", "cluster_disk_add", {"serial": lun, "access_path": "C:\\ClusterStorage\\Volume3", "csv": True})
    assert not refused["ok"] and refused["error"]["code"] == "DISK_NOT_FOUND"
    assert refused["error"]["details"]["nodes_without_disk"] == ["hvdr03"]
    call("hvdr03", "disk_rescan")
    added = call("hvdr02", "cluster_disk_add", {"serial": lun, "access_path": "C:\\ClusterStorage\\Volume3", "csv": True})
    assert added["ok"] and added["changed"], added
    assert added["result"]["disk"]["access_paths"] == ["C:\\ClusterStorage\\Volume3\\"] and added["result"]["disk"]["is_clustered"]
    for node in ("hvdr02", "hvdr03"):
        facts = call(node, "host_facts")["result"]["cluster"]
        assert [(csv["path"], csv["owner_node"]) for csv in facts["csvs"]] == [("C:\\ClusterStorage\\Volume3", "hvdr02")]
        where = call(node, "path_info", {"paths": ["C:\\ClusterStorage\\Volume3\\vm"]})["result"]["paths"][0]["storage"]
        assert (where["is_csv"], where["csv_name"], where["disk_serial"]) == (True, "Cluster Disk 1", lun)
    call("hvdr02", "file_write", {"path": "C:\\ClusterStorage\\Volume3\\a.txt", "content": "shared"})
    assert call("hvdr03", "file_read", {"paths": ["C:\\ClusterStorage\\Volume3\\a.txt"]})["result"]["files"][0]["content"] == "shared"
    again = call("hvdr02", "cluster_disk_add", {"serial": lun, "access_path": "C:\\ClusterStorage\\Volume3\\", "csv": True})
    assert again["ok"] and not again["changed"]
    other = serial(world, "lun_b")
    call("hvdr03", "disk_rescan")
    taken = call("hvdr02", "cluster_disk_add", {"serial": other, "access_path": "C:\\ClusterStorage\\Volume3", "csv": True})
    assert not taken["ok"] and taken["error"]["code"] == "AGENT_ERROR" and taken["error"]["details"]["exception"] == "IOException"


def test_a_cluster_disk_is_online_on_the_owner_and_reserved_on_the_other_node(world, call):
    lun = serial(world, "lun_c")
    call("hvdr03", "disk_rescan")
    added = call("hvdr02", "cluster_disk_add", {"serial": lun, "access_path": "S:\\"})
    assert added["ok"] and added["changed"] and added["result"]["disk"]["access_paths"] == ["S:\\"]
    other = world.hosts["hvdr03"].disks[lun]
    assert (other.online, other.offline_reason, other.access_paths) == (False, "Reserved by the failover cluster", [])
    again = call("hvdr02", "cluster_disk_add", {"serial": lun, "access_path": "S:\\"})
    assert again["ok"] and not again["changed"]
    as_csv = call("hvdr02", "cluster_disk_add", {"serial": lun, "access_path": "C:\\ClusterStorage\\Volume4", "csv": True})
    assert not as_csv["ok"] and "cluster disk of hvdrclus01 at 'S:\\'" in as_csv["error"]["message"]


@pytest.mark.parametrize("args", [{"access_path": "C:\\ClusterStorage\\Volume3", "csv": False},
                                  {"access_path": "D:\\", "csv": True}, {"access_path": "C:\\ClusterStorage\\a\\b", "csv": True}])
def test_a_path_of_the_wrong_kind_is_a_bad_request(world, call, args):
    refused = call("hvdr02", "cluster_disk_add", dict(args, serial=serial(world, "lun_a")))
    assert not refused["ok"] and refused["error"]["code"] == "BAD_REQUEST"


def test_a_standalone_host_has_no_cluster(world, call):
    refused = call("hvdr01", "cluster_disk_add", {"serial": serial(world, "lun_a"), "access_path": "S:\\"})
    assert not refused["ok"] and refused["error"]["details"]["exception"] == "ClusterCmdletException"


def test_a_csv_and_a_cluster_disk_leave_the_cluster_offline_on_every_node(world, call):
    csv_lun, disk_lun = serial(world, "lun_a"), serial(world, "lun_c")
    call("hvdr03", "disk_rescan")
    call("hvdr02", "cluster_disk_add", {"serial": csv_lun, "access_path": "C:\\ClusterStorage\\Volume3", "csv": True})
    call("hvdr02", "cluster_disk_add", {"serial": disk_lun, "access_path": "S:\\"})
    for lun, csv in ((csv_lun, True), (disk_lun, False)):
        removed = call("hvdr02", "cluster_disk_remove", {"serial": lun})
        assert removed["ok"] and removed["changed"] and (removed["result"]["found"], removed["result"]["csv"]) == (True, csv), removed
        for node in ("hvdr02", "hvdr03"):
            disk = world.hosts[node].disks[lun]
            assert (disk.online, disk.access_paths, disk.is_csv) == (False, [], False)
        again = call("hvdr02", "cluster_disk_remove", {"serial": lun})
        assert again["ok"] and not again["changed"] and not again["result"]["found"]
    assert world.failover_clusters["hvdrclus01"].csvs == []
    assert call("hvdr02", "host_facts")["result"]["cluster"]["csvs"] == []
