"""The lab's topology keys of issue 22: `unlicensed` on an ONTAP cluster and `ip_addresses` on a VM (the REST side and
the control API are tested through the real protocols in tests/e2e/test_licences_self_management.py)."""
from __future__ import annotations

from smhv_lab.topology import build_world, load_topology


def test_the_topology_takes_licences_away_and_gives_vms_addresses():
    spec = load_topology()
    spec["ontap_clusters"][1]["unlicensed"] = ["snapmirror"]
    first = dict(spec["vms"][0], ip_addresses=["10.0.0.7"])
    spec["vms"] = [first] + spec["vms"][1:]
    world = build_world(spec)
    assert [sorted(c.unlicensed) for c in world.clusters.values()] == [[], ["snapmirror"]]
    assert [vm.ip_addresses for host in world.hosts.values() for vm in host.vms.values() if vm.name == first["name"]] == [["10.0.0.7"]]
