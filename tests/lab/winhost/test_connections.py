"""HostClient over the real protocols against the lab WinRM server, both protocols, every auth path we support.

Fixtures (conftest.py): `server` (a WinRMServer whose host runs AgentHost), `agent_host`, `faults`
(the server's FaultRegistry) and `connect(protocol, transport, **winrm options)` -> HostClient.
"""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import HostClient, call_many, require_all
from smhv_lab.winrm import windows
from smhv_lab.winrm.executor import CommandResult

PROTOCOLS = ["psrp", "winrm"]
TRANSPORTS = ["ntlm-http", "ntlm-https", "basic-https"]


def echo(args, check_mode):
    return {"ok": True, "changed": not check_mode, "result": {"args": args}, "warnings": ["echoed"]}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_agent_calls_over_every_transport(connect, server, agent_host, protocol, transport):
    agent_host.ops["file_write"] = echo
    client = connect(protocol, transport)
    facts = client.call("host_facts")
    written = client.call("file_write", {"path": "C:\\SnapInfo\\a.json", "content": "é" * 10}, check_mode=True)
    client.close()

    assert facts.result == {"computer_name": "HV1"}
    assert written.result == {"args": {"path": "C:\\SnapInfo\\a.json", "content": "é" * 10}}
    assert (written.changed, written.warnings) == (False, ["echoed"])
    assert [r["check_mode"] for r in agent_host.requests] == [False, True]
    records = server.requests
    auth, scheme = transport.split("-")
    assert {r.listener for r in records} == {scheme}
    assert all(r.encrypted for r in records) is (scheme == "http")  # NTLM over HTTP seals every message
    # One connection for both calls, and every WS-Management message counted.
    assert client.stats.connects == 1 and client.stats.calls == 2
    assert client.stats.round_trips == len(records)
    assert sum(r.action == "Create" for r in records) == 1
    assert records[-1].action == "Delete"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_large_request_travels_in_chunks(connect, agent_host, protocol):
    agent_host.ops["vm_inventory"] = echo
    names = ["vm-%06d" % i for i in range(40000)]  # ~400 KB of JSON: several WinRS Sends or PSRP fragments
    assert connect(protocol, "ntlm-http").call("vm_inventory", {"names": names}).result == {"args": {"names": names}}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_password_is_auth_failed(connect, protocol):
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "ntlm-http", password="Wrong-pass-1").call("host_facts")
    error = caught.value
    assert error.code == "HOST_AUTH_FAILED"
    assert "refused the credentials of user 'vagrant' with auth ntlm" in error.message
    assert "Wrong-pass-1" not in error.message + repr(error.details)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_basic_password_is_auth_failed(connect, protocol):
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "basic-https", password="Wrong-pass-2").call("host_facts")
    assert caught.value.code == "HOST_AUTH_FAILED"
    assert "Wrong-pass-2" not in caught.value.message + repr(caught.value.details)


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
def test_operation_timeouts_while_the_op_runs_are_polled(connect, server, faults, agent_host, protocol):
    agent_host.delay = 0.6  # three Receives answer OperationTimeout (max_receive_wait 0.2 s) ...
    faults.add("winrm", "timeout", match={"action": "Receive", "command_id": ".+"}, times=2)  # ... plus two injected
    client = connect(protocol, "ntlm-http")
    assert client.call("host_facts").result == {"computer_name": "HV1"}
    timeouts = [r for r in server.requests if r.action == "Receive" and r.fault == 2150858793]
    assert len(timeouts) >= 4
    assert client.stats.retries == 0


def test_timeout_while_opening_the_runspace_pool_is_retried(connect, server, faults):
    # pypsrp's RunspacePool.open() does not poll through the fault; nothing ran yet, so HostClient may retry.
    faults.add("winrm", "timeout", match={"action": "Receive", "resource": ".*Microsoft.PowerShell"})
    client = connect("psrp", "ntlm-https")
    assert client.call("host_facts").result == {"computer_name": "HV1"}
    assert client.stats.retries == 1 and client.stats.connects == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dropped_connection_is_retried_for_a_read(connect, faults, agent_host, protocol):
    faults.add("winrm", "drop", match={"action": "Receive", "command_id": ".+"})
    client = connect(protocol, "ntlm-http")
    assert client.call("host_facts").result == {"computer_name": "HV1"}
    assert client.stats.retries == 1 and client.stats.connects == 2
    assert [r["op"] for r in agent_host.requests] == ["host_facts", "host_facts"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dropped_connection_is_not_resent_for_a_write(connect, faults, agent_host, protocol):
    agent_host.ops["file_write"] = echo
    faults.add("winrm", "drop", match={"action": "Receive", "command_id": ".+"})
    client = connect(protocol, "ntlm-https")
    with pytest.raises(SmhvError) as caught:
        client.call("file_write", {"path": "C:\\a", "content": "x"})
    error = caught.value
    assert error.code == "HOST_UNREACHABLE" and error.details["may_have_run"] is True
    assert [r["op"] for r in agent_host.requests] == ["file_write"]  # it did run, once
    assert client.call("host_facts").result == {"computer_name": "HV1"}  # the client recovers


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_read_timeout_is_retried_for_a_read(connect, faults, protocol):
    faults.add("winrm", "delay", match={"action": "Command"}, params={"seconds": 2.5})
    client = connect(protocol, "ntlm-http", operation_timeout=1, read_timeout=2)
    assert client.call("host_facts").result == {"computer_name": "HV1"}
    assert client.stats.retries == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_call_timeout_bounds_a_slow_op(connect, agent_host, protocol):
    agent_host.delay = 1.5
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "ntlm-http").call("host_facts", timeout=0.5)
    assert caught.value.code == "HOST_TIMEOUT"
    assert "did not finish within 0.5 s" in caught.value.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_agent_error_keeps_its_code(connect, protocol):
    with pytest.raises(SmhvError) as caught:
        connect(protocol, "basic-https").call("disk_rescan")
    assert caught.value.code == "UNKNOWN_OP"
    assert caught.value.details["host"] == "hv1" and caught.value.details["op"] == "disk_rescan"


def test_winrs_errors_arrive_as_text_not_clixml(connect, agent_host):
    agent_host.raw_winrs = CommandResult(stderr=windows.clixml_error("ConvertFrom-Json : Invalid JSON primitive"), rc=1)
    with pytest.raises(SmhvError) as caught:
        connect("winrm", "ntlm-https").call("host_facts")
    error = caught.value
    assert error.code == "HOST_PROTOCOL_ERROR"
    assert error.details["rc"] == 1
    assert error.details["stderr"] == "ConvertFrom-Json : Invalid JSON primitive\r\n"


def test_call_many_across_protocols_with_one_host_down(connect, server, certificates):
    down = HostClient("hv9", dict(username="u", password="p", auth="ntlm", use_ssl=False, operation_retries=0),
                      {"hv9": "127.0.0.1:9"})
    clients = [connect("psrp", "ntlm-http"), connect("winrm", "ntlm-https"), down]
    clients[1].name = "hv1-winrs"
    results = call_many(clients, "host_facts")
    assert results["hv1"].result == results["hv1-winrs"].result == {"computer_name": "HV1"}
    assert results["hv9"].code == "HOST_UNREACHABLE"
    with pytest.raises(SmhvError, match="1 of 3 hosts failed: hv9: "):
        require_all(results)
