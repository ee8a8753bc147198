"""StorageClient against real HTTPS: three simulated clusters, each its own OntapServer with the lab CA.

cluster-a (ONTAP 9.13.1) is the primary site, cluster-b (9.13.1) holds a SnapMirror destination of
cluster-a's vol1, and cluster-old (9.8.0) is a persona too old for consistency-group snapshots.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from smhv_lab import tls
from smhv_lab.faults import FaultRegistry
from smhv_lab.ontap import OntapServer, jobs
from smhv_lab.world import FileTree, LunContent, World
from smhv_lab.world.storage import StorageCluster

GIB = 1024 ** 3
IQNS = {"hv-host1": "iqn.1991-05.com.microsoft:hv-host1", "hv-host2": "iqn.1991-05.com.microsoft:hv-host2"}


@dataclass
class Site:
    world: World
    faults: FaultRegistry
    ca: Path
    servers: dict[str, OntapServer]
    iqn = IQNS

    def cluster(self, name: str = "cluster-a") -> StorageCluster:
        return self.world.clusters[name]

    def system(self, name: str, **overrides) -> dict:
        cluster = self.cluster(name)
        return dict(dict(hostname="127.0.0.1", port=self.servers[name].port, username=cluster.username,
                         password=cluster.password, validate_certs=True, ca_path=str(self.ca), timeout=10),
                    **overrides)

    def client(self, *names: str, **overrides) -> StorageClient:
        return StorageClient([self.system(name, **overrides) for name in names or self.servers])

    def serial(self, path: str, cluster: str = "cluster-a") -> str:
        return self.cluster(cluster).lun(path).serial


def build_world() -> World:
    world = World()
    a = StorageCluster("cluster-a", "9.13.1", site="site-a")
    b = StorageCluster("cluster-b", "9.13.1", site="site-b")
    old = StorageCluster("cluster-old", "9.8.0", site="site-a")
    world.clusters.update({c.name: c for c in (a, b, old)})
    for cluster in (a, b, old):  # the client's semantics, not time: jobs end at once here
        jobs.configure(cluster, profile="instant")
    a.peer_with(b)
    a.add_svm("svm1")
    a.add_aggregate("aggr1", 1024 * GIB)
    a.create_volume("svm1", "vol1", "aggr1", 100 * GIB)
    a.create_volume("svm1", "vol2", "aggr1", 100 * GIB)
    a.create_lun("vol1", "lun1", 10 * GIB, content=LunContent(label="VMS", files=FileTree({
        "vm1\\vm1.vhdx": b"vm1 disk v1"})))
    a.create_lun("vol2", "lun2", 5 * GIB, content=LunContent(files=FileTree({"vm2\\vm2.vhdx": b"vm2 disk v1"})))
    a.create_igroup("svm1", "hv-host1", initiators=[IQNS["hv-host1"]])
    a.map_lun("/vol/vol1/lun1", "hv-host1")
    b.add_svm("svm_dr")
    b.add_aggregate("aggr_dr", 1024 * GIB)
    b.create_volume("svm_dr", "vol1_dr", "aggr_dr", 100 * GIB, type="dp")
    mirror = b.create_relationship("svm1:vol1", "svm_dr:vol1_dr", source_cluster="cluster-a")
    b.start_transfer(mirror)
    old.add_svm("svm_old")
    old.add_aggregate("aggr_old", 1024 * GIB)
    for name in ("old1", "old2"):
        old.create_volume("svm_old", name, "aggr_old", 50 * GIB)
        old.create_lun(name, "lun_" + name, 5 * GIB)
    return world


@pytest.fixture(scope="session")
def lab_certificates(tmp_path_factory):
    return tls.ensure_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def site(lab_certificates):
    # REQUESTS_CA_BUNDLE is left as the environment has it: ca_path must win over it.
    world, faults = build_world(), FaultRegistry()
    context = tls.server_context(lab_certificates)
    servers = {name: OntapServer(world, name, faults=faults, tls_context=context).start() for name in world.clusters}
    try:
        yield Site(world, faults, lab_certificates["ca_cert"], servers)
    finally:
        for server in servers.values():
            server.stop()
