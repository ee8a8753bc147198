"""HostClient against the lab: a WinRM server (real HTTP(S), NTLM/Basic, message encryption, WinRS and
PSRP) whose host is played by the lab's Hyper-V AgentExecutor over a one-host world.

The executor recognises the agent by hash exactly as a Windows host receives it (PSRP: AGENT_SCRIPT
with -Request; WinRS: the bootstrap as -EncodedCommand, agent + request on stdin), runs its ops on
the world model and answers what the agent's PowerShell would. One FaultRegistry serves both the
WinRM transport ("winrm" rules) and the agent ("agent" rules).
"""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient
from smhv_lab import tls
from smhv_lab.faults import FaultRegistry
from smhv_lab.hyperv import AgentExecutor
from smhv_lab.topology import build_world
from smhv_lab.winrm import WinRMServer

HOST = "hv1"
USER, PASSWORD = "LAB\\smhv-admin", "Hyper-V1!lab"

# One standalone host with one LUN at J:\ holding two VMs (three VHDs).
TINY_SITE = {
    "name": "tiny",
    "credentials": {"ontap": {"username": "admin", "password": "Netapp1!lab"}, "windows": {"username": USER, "password": PASSWORD}},
    "ontap_clusters": [{"name": "cluster-a", "svm": "svm_hv", "volumes": [{"name": "vol_hv1", "size": 100}]}],
    "hosts": [{"name": HOST}],
    "luns": [{"cluster": "cluster-a", "volume": "vol_hv1", "name": "lun_j", "size": 50, "hosts": [HOST], "access_path": "J:\\"}],
    "vms": [{"name": "vm-web01", "scope": HOST, "path": "J:\\", "disks": [20]},
            {"name": "vm-db01", "scope": HOST, "path": "J:\\", "disks": [20, 10], "state": "Off"}],
}


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    return tls.ensure_certificates(tmp_path_factory.mktemp("pki"), [HOST])


@pytest.fixture(scope="session")
def foreign_ca(tmp_path_factory):
    """A CA that did not sign the lab's certificates."""
    return tls.ensure_certificates(tmp_path_factory.mktemp("other-pki"))["ca_cert"]


@pytest.fixture
def world():
    return build_world(TINY_SITE)


@pytest.fixture
def faults():
    return FaultRegistry()


@pytest.fixture
def executor(world, faults):
    executor = AgentExecutor(world, faults)
    yield executor
    executor.close()


@pytest.fixture
def server(certificates, faults, executor):
    # Receives block at most 0.2 s before the OperationTimeout fault, so slow ops cost polls, not time.
    with WinRMServer(HOST, username=USER, password=PASSWORD, executor=executor, faults=faults,
                     tls_context=tls.server_context(certificates), max_receive_wait=0.2) as running:
        yield running


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(HostClient, "RETRY_DELAY", 0.05)


@pytest.fixture
def connect(server, certificates):
    """HostClient for the server: connect(protocol, "ntlm-http" | "ntlm-https" | "basic-https", **winrm options).

    `port` goes into host_addresses (which wins over winrm.port), to aim a client at the other listener.
    """
    clients = []

    def make(protocol, transport, **options):
        auth, scheme = transport.split("-")
        port = options.pop("port", server.https_port if scheme == "https" else server.http_port)
        winrm = dict(username=USER, password=PASSWORD, auth=auth, protocol=protocol, use_ssl=scheme == "https",
                     validate_certs=True, ca_path=str(certificates["ca_cert"]), operation_retries=2)
        winrm.update(options)
        client = HostClient(HOST, winrm, {HOST: "127.0.0.1:%d" % port})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
