"""HostClient over the real protocols: every transport and auth path we support, and how connection
failures, timeouts and drops surface or are retried. Both protocols throughout.

Fixtures (conftest.py): `connect(protocol, transport, **winrm options)` -> HostClient, `server` (the
WinRMServer), `executor` (the lab's AgentExecutor), `world`, `faults`.
"""
from __future__ import annotations

import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient, call_many, require_all
from smhv_lab.winrm import windows
from smhv_lab.winrm.executor import CommandResult

HOST = "hv1"
PROTOCOLS = ["psrp", "winrm"]
TRANSPORTS = ["ntlm-http", "ntlm-https", "basic-https"]
OPERATION_TIMEOUT_FAULT = 2150858793


def ops_run(executor, expected):
    """The ops the host ran, once it ran `expected` many: a dropped call's op may still be finishing on the host."""
    deadline = time.monotonic() + 5
    while len(executor.requests) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return [request["op"] for request in executor.requests]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_agent_calls_over_every_transport(connect, server, world, protocol, transport):
    path = "J:\\SnapInfo\\réplique.json"
    args = {"path": path, "content": "données ✓", "create_dirs": True}
    client = connect(protocol, transport)
    assert client.call("host_facts").result["computer_name"].lower() == HOST
    assert client.call("file_write", args, check_mode=True).changed is True
    assert not world.host(HOST).file_exists(world, path)  # check mode reached the agent as check mode
    assert client.call("file_write", args).changed is True
    assert client.call("file_read", {"paths": [path]}).result["files"][0]["content"] == "données ✓"
    client.close()

    records = server.requests
    scheme = transport.split("-")[1]
    assert {r.listener for r in records} == {scheme}
    assert all(r.encrypted for r in records) is (scheme == "http")  # NTLM over HTTP seals every message
    # One connection for every call, and every WS-Management message the server saw was counted.
    assert client.stats.connects == 1 and client.stats.calls == 4
    assert client.stats.round_trips == len(records)
    assert sum(r.action == "Create" for r in records) == 1
    assert records[-1].action == "Delete"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_large_request_and_reply_travel_in_chunks(connect, protocol):
    names = ["vm-%06d" % i for i in range(40000)]  # ~400 KB each way: several WinRS Sends/Receives or PSRP fragments
    inventory = connect(protocol, "ntlm-http").call("vm_inventory", {"names": names, "require_all": False}).result
    assert inventory["missing"]["names"] == names


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", ["ntlm-http", "basic-https"])
def test_wrong_password_is_auth_failed(connect, protocol, transport):
    with pytest.raises(SmhvError) as caught:
        connect(protocol, transport, password="Wrong-pass-1").call("host_facts")
    error = caught.value
    assert error.code == "HOST_AUTH_FAILED"
    assert "refused the credentials of user 'LAB\\\\smhv-admin' with auth %s" % transport.split("-")[0] in error.message
    assert "Wrong-pass-1" not in error.message + repr(error.details)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stopped_server_is_unreachable(connect, server, protocol):
    client = connect(protocol, "ntlm-https", operation_retries=1)
    server.stop()
    with pytest.raises(SmhvError) as caught:
        client.call("host_facts")
    assert caught.value.code == "HOST_UNREACHABLE"
    assert "refused the connection on port %d" % server.https_port in caught.value.message
    assert "(gave up after 2 attempts)" in caught.value.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_untrusted_certificate_is_a_tls_error(connect, foreign_ca, protocol):
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "ntlm-https", ca_path=str(foreign_ca)).call("host_facts")
    error = caught.value
    assert error.code == "HOST_TLS_ERROR"
    assert "certificate is not trusted: unable to get local issuer certificate" in error.message
    assert "winrm.ca_path" in error.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_https_to_the_http_listener_is_a_tls_error(connect, server, protocol):
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "ntlm-https", port=server.http_port).call("host_facts")
    assert caught.value.code == "HOST_TLS_ERROR"
    assert "is an HTTPS listener" in caught.value.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_operation_timeouts_while_the_op_runs_are_polled(connect, server, faults, protocol):
    faults.add("agent", "delay", params={"seconds": 0.6})  # Receives answer OperationTimeout every 0.2 s meanwhile ...
    faults.add("winrm", "timeout", match={"action": "Receive", "command_id": ".+"}, times=2)  # ... plus two injected
    client = connect(protocol, "ntlm-http")
    assert client.call("host_facts").result["computer_name"].lower() == HOST
    timeouts = [r for r in server.requests if r.action == "Receive" and r.fault == OPERATION_TIMEOUT_FAULT]
    assert len(timeouts) >= 4
    assert client.stats.retries == 0


def test_timeout_while_opening_the_runspace_pool_is_retried(connect, faults, executor):
    # pypsrp's RunspacePool.open() does not poll through this fault; nothing ran yet, so even a write is retried.
    faults.add("winrm", "timeout", match={"action": "Receive", "resource": ".*Microsoft.PowerShell"})
    client = connect("psrp", "ntlm-https")
    assert client.call("file_write", {"path": "J:\\a.txt", "content": "a"}).changed is True
    assert client.stats.retries == 1 and client.stats.connects == 1
    assert ops_run(executor, 1) == ["file_write"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dropped_connection_is_retried_for_a_read(connect, faults, executor, protocol):
    faults.add("winrm", "drop", match={"action": "Receive", "command_id": ".+"})
    client = connect(protocol, "ntlm-http")
    assert client.call("host_facts").result["computer_name"].lower() == HOST
    assert client.stats.retries == 1 and client.stats.connects == 2
    assert ops_run(executor, 2) == ["host_facts", "host_facts"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dropped_connection_is_not_resent_for_a_write(connect, faults, executor, world, protocol):
    faults.add("winrm", "drop", match={"action": "Receive", "command_id": ".+"})
    client = connect(protocol, "ntlm-https")
    with pytest.raises(SmhvError) as caught:
        client.call("file_write", {"path": "J:\\a.txt", "content": "a"})
    error = caught.value
    assert error.code == "HOST_UNREACHABLE" and error.details["may_have_run"] is True
    assert ops_run(executor, 1) == ["file_write"]
    assert world.host(HOST).file_exists(world, "J:\\a.txt")  # it did run: re-sending blindly would have run it twice
    assert client.call("host_facts").result  # the client recovers on a fresh connection


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_read_timeout_is_retried_for_a_read(connect, faults, protocol):
    faults.add("winrm", "delay", match={"action": "Command"}, params={"seconds": 2.5})
    client = connect(protocol, "ntlm-http", operation_timeout=1, read_timeout=2)
    assert client.call("host_facts").result
    assert client.stats.retries == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_call_timeout_bounds_a_slow_op(connect, faults, protocol):
    faults.add("agent", "delay", params={"seconds": 1.5})
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "ntlm-http").call("host_facts", timeout=0.5)
    assert caught.value.code == "HOST_TIMEOUT"
    assert "did not finish within 0.5 s" in caught.value.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_injected_agent_error_keeps_its_code(connect, faults, protocol):
    faults.add("agent", "agent_error", match={"op": "disk_rescan"}, params={"code": "SCOPE_BUSY", "message": "Held by job 7."})
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "basic-https").call("disk_rescan")
    error = caught.value
    assert error.code == "SCOPE_BUSY"
    assert error.message == "Held by job 7. (agent op disk_rescan on host hv1)"
    assert error.details["injected"] is True and error.details["op"] == "disk_rescan"


def test_winrs_errors_arrive_as_text_not_clixml(connect, executor, monkeypatch):
    # What a host without the agent's prerequisites answers: PowerShell's error stream as CLIXML, rc 1.
    failed = CommandResult(stderr=windows.clixml_error("ConvertFrom-Json : Invalid JSON primitive"), rc=1)
    monkeypatch.setattr(executor, "run_command", lambda host, command, arguments, stdin: failed)
    with pytest.raises(SmhvError) as caught:
        connect("winrm", "ntlm-https").call("host_facts")
    error = caught.value
    assert error.code == "HOST_PROTOCOL_ERROR"
    assert error.details["rc"] == 1
    assert error.details["stderr"] == "ConvertFrom-Json : Invalid JSON primitive\r\n"


def test_call_many_across_protocols_with_one_host_down(connect):
    down = HostClient("hv9", dict(username="u", password="p", auth="ntlm", use_ssl=False, operation_retries=0),
                      {"hv9": "127.0.0.1:9"})
    clients = {"hv1": connect("psrp", "ntlm-http"), "hv1-winrs": connect("winrm", "ntlm-https"), "hv9": down}
    results = call_many(clients, "host_facts")
    assert results["hv1"].result == results["hv1-winrs"].result
    assert results["hv9"].code == "HOST_UNREACHABLE"
    with pytest.raises(SmhvError, match="1 of 3 hosts failed: hv9: "):
        require_all(results)
