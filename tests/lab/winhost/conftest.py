"""HostClient against the lab's WinRM server: real HTTP(S), NTLM/Basic, message encryption, WinRS and PSRP.

The server runs `AgentHost`, a stand-in for a Windows host that knows only the collection's agent and
recognises it exactly as a real host runs it: over PSRP the AGENT_SCRIPT with a -Request parameter,
over WinRS PowerShell with the bootstrap as -EncodedCommand and `{script, request}` + sentinel on
stdin. It answers per op with agent-contract documents.
"""
from __future__ import annotations

import json
import threading
import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import HostClient
from smhv_lab import tls
from smhv_lab.faults import FaultRegistry
from smhv_lab.winrm import WinRMServer, windows
from smhv_lab.winrm.executor import CommandResult, PipelineResult

HOST = "hv1"
USER = "vagrant"
PASSWORD = "Lab-Passw0rd!"


def ok(result, changed=False, warnings=()):
    return {"ok": True, "changed": changed, "result": result, "warnings": list(warnings)}


class AgentHost:
    """`CommandExecutor` that runs the agent's ops from `ops` (op -> callable(args, check_mode) -> document)."""

    def __init__(self):
        self.requests = []  # every agent request that reached the host, decoded, in order
        self.ops = {"host_facts": lambda args, check_mode: ok({"computer_name": HOST.upper()})}
        self.raw_winrs = None  # a CommandResult to answer over WinRS instead of running the agent
        self.delay = 0.0
        self._lock = threading.Lock()

    def _run(self, request_json):
        request = json.loads(request_json)
        with self._lock:
            self.requests.append(request)
        time.sleep(self.delay)
        op = self.ops.get(request["op"])
        if op is None:
            return {"ok": False, "error": {"code": "UNKNOWN_OP", "message": "no op %s" % request["op"], "details": {}}}
        return op(request["args"], request["check_mode"])

    def run_command(self, host, command, arguments, stdin):
        if windows.encoded_script(windows.command_line(command, arguments)) != agent.BOOTSTRAP_SCRIPT:
            return windows.not_recognized(command)
        if self.raw_winrs is not None:
            return self.raw_winrs
        payload, sentinel = stdin.partition(agent.STDIN_SENTINEL)[:2]
        document = json.loads(payload)
        if not sentinel or document["script"] != agent.AGENT_SCRIPT:
            return CommandResult(stderr=windows.clixml_error("payload is not the agent"), rc=1)
        # PowerShell's first-use progress record rides along on stderr with rc 0, as on a fresh host.
        return CommandResult(stdout=(json.dumps(self._run(document["request"])) + "\r\n").encode(), stderr=windows.clixml_progress())

    def run_pipeline(self, host, commands, input_objects):
        command = commands[0]
        parameters = dict(command.parameters)
        if not command.is_script or command.text != agent.AGENT_SCRIPT or set(parameters) != {"Request"}:
            return PipelineResult(failed=True, reason="not the agent")
        return PipelineResult(output=[json.dumps(self._run(str(parameters["Request"])))])


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    return tls.ensure_certificates(tmp_path_factory.mktemp("pki"), [HOST])


@pytest.fixture(scope="session")
def foreign_ca(tmp_path_factory):
    """A CA that did not sign the lab's certificates."""
    return tls.ensure_certificates(tmp_path_factory.mktemp("other-pki"))["ca_cert"]


@pytest.fixture
def faults():
    return FaultRegistry()


@pytest.fixture
def agent_host():
    return AgentHost()


@pytest.fixture
def server(certificates, faults, agent_host):
    # Receives block at most 0.2 s before the OperationTimeout fault, so slow ops cost polls, not time.
    with WinRMServer(HOST, username=USER, password=PASSWORD, executor=agent_host, faults=faults,
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
