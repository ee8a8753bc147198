"""Fixtures for the WinRM transport conformance tests: a fresh server per test, real clients.

Every test talks to its own `WinRMServer` on free loopback ports through unmodified pywinrm and
pypsrp, validating the lab CA (never with certificate checks turned off).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import winrm
from pypsrp.client import Client
from pypsrp.wsman import WSMan
from winrm.protocol import Protocol

from smhv_lab import tls
from smhv_lab.faults import FaultRegistry
from smhv_lab.winrm import WinRMServer
from smhv_lab.winrm.testing import EchoExecutor

HOST = "hv1"
USER = "vagrant"
PASSWORD = "Vagrant!1"

# How each client reaches the server: NTLM over HTTP (sealed messages), NTLM over HTTPS (channel
# binding), Basic over HTTPS. pypsrp uses its default Negotiate provider for NTLM, i.e. SPNEGO-wrapped.
TRANSPORTS = ["ntlm-http", "ntlm-https", "basic-https"]


class Clients:
    """Builds real clients for a server and a transport name from TRANSPORTS."""

    username = USER
    password = PASSWORD

    def __init__(self, ca_file: Path):
        self.ca_file = str(ca_file)

    @staticmethod
    def _split(transport: str) -> tuple[str, str]:
        auth, scheme = transport.split("-", 1)
        return auth, scheme

    def protocol(self, server: WinRMServer, transport: str, *, username: str = USER, password: str = PASSWORD,
                 **kwargs: Any) -> Protocol:
        auth, scheme = self._split(transport)
        return Protocol(server.url(scheme), transport=auth, username=username, password=password,
                        server_cert_validation="validate", ca_trust_path=self.ca_file, **kwargs)

    def session(self, server: WinRMServer, transport: str, *, username: str = USER, password: str = PASSWORD,
                **kwargs: Any) -> winrm.Session:
        auth, scheme = self._split(transport)
        return winrm.Session(server.url(scheme), auth=(username, password), transport=auth,
                             server_cert_validation="validate", ca_trust_path=self.ca_file, **kwargs)

    def _wsman_options(self, server: WinRMServer, transport: str, username: str, password: str,
                       auth: str | None) -> dict[str, Any]:
        kind, scheme = self._split(transport)
        return dict(port=server.http_port if scheme == "http" else server.https_port, ssl=scheme == "https",
                    username=username, password=password, cert_validation=self.ca_file,
                    auth=auth or ("negotiate" if kind == "ntlm" else kind))

    def wsman(self, server: WinRMServer, transport: str, *, username: str = USER, password: str = PASSWORD,
              auth: str | None = None, **kwargs: Any) -> WSMan:
        """pypsrp's WSMan, for RunspacePool and WinRS; `auth` overrides the provider (e.g. raw "ntlm")."""
        return WSMan(server.bind, **self._wsman_options(server, transport, username, password, auth), **kwargs)

    def client(self, server: WinRMServer, transport: str, *, username: str = USER, password: str = PASSWORD,
               auth: str | None = None, **kwargs: Any) -> Client:
        return Client(server.bind, **self._wsman_options(server, transport, username, password, auth), **kwargs)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tls.ensure_certificates(tmp_path_factory.mktemp("pki"), [HOST])


@pytest.fixture
def faults() -> FaultRegistry:
    return FaultRegistry()


@pytest.fixture
def executor() -> EchoExecutor:
    return EchoExecutor()


@pytest.fixture
def start_server(certificates: dict[str, Path], faults: FaultRegistry,
                 executor: EchoExecutor) -> Iterator[Callable[..., WinRMServer]]:
    """Start a server (keyword overrides go to WinRMServer); every one is stopped after the test."""
    servers: list[WinRMServer] = []

    def start(host_name: str = HOST, **overrides: Any) -> WinRMServer:
        options: dict[str, Any] = dict(username=USER, password=PASSWORD, executor=executor, faults=faults,
                                       tls_context=tls.server_context(certificates), max_receive_wait=0.1)
        options.update(overrides)
        server = WinRMServer(host_name, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., WinRMServer]) -> WinRMServer:
    return start_server()


@pytest.fixture
def clients(certificates: dict[str, Path]) -> Clients:
    return Clients(certificates["ca_cert"])


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param
