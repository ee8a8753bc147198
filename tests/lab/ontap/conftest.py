"""A small in-process ONTAP lab: cluster-a (primary) and cluster-b (mirror site), each behind its own
OntapServer on a free loopback port, with the lab CA so clients keep certificate validation on."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from netapp_ontap import HostConnection

from smhv_lab import tls
from smhv_lab.faults import FaultRegistry
from smhv_lab.ontap import OntapServer, jobs
from smhv_lab.world import FileTree, LunContent, World
from smhv_lab.world.storage import StorageCluster

GIB = 1024 ** 3


@dataclass
class OntapLab:
    world: World
    faults: FaultRegistry
    ca: Path
    servers: dict[str, OntapServer]

    def cluster(self, name: str = "cluster-a") -> StorageCluster:
        return self.world.clusters[name]

    def credentials(self, name: str = "cluster-a") -> tuple[str, str]:
        cluster = self.cluster(name)
        return cluster.username, cluster.password

    def connection(self, name: str = "cluster-a") -> HostConnection:
        username, password = self.credentials(name)
        return HostConnection("127.0.0.1", port=self.servers[name].port, username=username, password=password,
                              verify=str(self.ca))

    def url(self, name: str = "cluster-a") -> str:
        return self.servers[name].url


def build_world() -> World:
    world = World()
    a = StorageCluster("cluster-a", "9.13.1", site="site-a")
    b = StorageCluster("cluster-b", "9.13.1", site="site-b")
    world.clusters.update({a.name: a, b.name: b})
    for cluster in (a, b):  # REST semantics, not time: jobs end at once here (test_job_timing.py times them)
        jobs.configure(cluster, profile="instant")
    a.peer_with(b)
    a.add_svm("svm1")
    a.add_aggregate("aggr1", 1024 * GIB)
    a.create_volume("svm1", "vol1", "aggr1", 100 * GIB)
    a.create_volume("svm1", "vol2", "aggr1", 100 * GIB)
    a.create_lun("vol1", "lun1", 10 * GIB, content=LunContent(label="VMS", files=FileTree({
        "vm1\\vm1.vhdx": b"vm1 disk v1", "vm1\\config.xml": b"<vm name='vm1'/>"})))
    a.create_lun("vol1", "lun2", 5 * GIB, os_type="windows_2008")
    a.create_lun("vol2", "lun3", 5 * GIB, content=LunContent(files=FileTree({"vm2.vhdx": b"vm2"})))
    a.create_igroup("svm1", "hv-host1", initiators=["iqn.1991-05.com.microsoft:hv-host1"])
    a.map_lun("/vol/vol1/lun1", "hv-host1")
    b.add_svm("svm_dr")
    b.add_aggregate("aggr_dr", 1024 * GIB)
    b.create_volume("svm_dr", "vol1_dr", "aggr_dr", 100 * GIB, type="dp")
    return world


@pytest.fixture(scope="session")
def lab_certificates(tmp_path_factory):
    return tls.ensure_certificates(tmp_path_factory.mktemp("ca"), ["cluster-a", "cluster-b"])


@pytest.fixture
def ontap_lab(lab_certificates, monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) override a Session's own `verify`, and
    # netapp-ontap only sets Session.verify: so the environment must name the lab CA as well.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(lab_certificates["ca_cert"]))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    world, faults = build_world(), FaultRegistry()
    context = tls.server_context(lab_certificates)
    servers = {name: OntapServer(world, name, faults=faults, tls_context=context).start() for name in world.clusters}
    try:
        yield OntapLab(world, faults, lab_certificates["ca_cert"], servers)
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def conn(ontap_lab):
    with ontap_lab.connection() as connection:
        yield connection
