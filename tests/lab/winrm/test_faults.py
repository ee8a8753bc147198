"""Every FaultRegistry kind for the "winrm" target, as the real clients surface it."""
from __future__ import annotations

import time

import pypsrp.exceptions
import pytest
import requests
import winrm.exceptions
from pypsrp.shell import WinRS


@pytest.mark.parametrize("code, subcode", [(5, "w:AccessDenied"), (170, "w:InternalError"),
                                           (2150858843, "w:InvalidSelectors")])
def test_wsman_fault(server, clients, transport, faults, code, subcode):
    faults.add("winrm", "wsman_fault", match={"action": "Command"}, times=2,
               params={"code": code, "message": "Injected failure."})

    with pytest.raises(winrm.exceptions.WSManFaultError) as pywinrm_error:
        clients.session(server, transport).run_cmd("echo never")
    with pytest.raises(pypsrp.exceptions.WSManFaultError) as pypsrp_error:
        clients.client(server, transport).execute_cmd("echo never")

    fault = pywinrm_error.value
    assert (fault.code, fault.wsman_fault_code, fault.fault_subcode, fault.reason) == (500, code, subcode,
                                                                                       "Injected failure.")
    assert (pypsrp_error.value.code, pypsrp_error.value.machine, pypsrp_error.value.reason) == (code, "hv1",
                                                                                                "Injected failure.")
    assert [r.injected for r in server.requests if r.action == "Command"] == ["wsman_fault"] * 2


def test_quota_fault_carries_the_wmi_error_code(server, clients, faults):
    # Ansible re-creates the shell when WSManFaultError.wmierror_code is this quota code.
    faults.add("winrm", "wsman_fault", match={"action": "Create"},
               params={"code": 2150859174, "message": "The WS-Management service cannot process the request. "
                       "This user is allowed a maximum number of 5 concurrent shells.", "wmi_error_code": "0x803381A6"})

    with pytest.raises(winrm.exceptions.WSManFaultError) as error:
        clients.session(server, "ntlm-http").run_cmd("echo never")
    assert (error.value.wmierror_code, error.value.fault_subcode) == (2150859174, "w:QuotaLimit")


def test_timeout_fault_on_receive_is_retried(server, clients, transport, faults):
    faults.add("winrm", "timeout", match={"action": "Receive"}, times=3)

    assert clients.session(server, transport).run_cmd("echo patient").std_out == b"patient\r\n"
    assert clients.client(server, transport).execute_cmd("echo patient")[0] == "patient\r\n"
    injected = [r.fault for r in server.requests if r.injected == "timeout"]
    assert injected == [2150858793] * 3


def test_timeout_fault_elsewhere_is_an_error(server, clients, faults):
    faults.add("winrm", "timeout", match={"action": "Command"}, times=2)

    with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
        clients.session(server, "ntlm-http").run_cmd("echo never")
    with pytest.raises(pypsrp.exceptions.WSManFaultError) as error:
        clients.client(server, "ntlm-http").execute_cmd("echo never")
    assert error.value.code == 2150858793


def test_delay(server, clients, faults):
    faults.add("winrm", "delay", match={"action": "Create"}, params={"seconds": 0.3})

    started = time.monotonic()
    assert clients.session(server, "basic-https").run_cmd("echo late").std_out == b"late\r\n"
    assert time.monotonic() - started >= 0.3


def test_delay_past_the_read_timeout(server, clients, faults):
    faults.add("winrm", "delay", match={"action": "Create"}, params={"seconds": 0.6})

    with pytest.raises(requests.exceptions.ReadTimeout):
        WinRS(clients.wsman(server, "ntlm-https", read_timeout=0.2)).open()


def test_drop(server, clients, transport, faults):
    faults.add("winrm", "drop", match={"action": "Receive"}, times=2)

    with pytest.raises(requests.exceptions.ConnectionError):
        clients.session(server, transport).run_cmd("echo lost")
    # pypsrp's WinRS.__exit__ then deletes the shell on a new connection. Over HTTP that Delete is
    # still sealed with the lost connection's keys, and the 400 it earns replaces the ConnectionError.
    sealed = transport == "ntlm-http"
    with pytest.raises(pypsrp.exceptions.WinRMTransportError if sealed else requests.exceptions.ConnectionError):
        clients.client(server, transport).execute_cmd("echo lost")
    # The host itself is fine: the next session works.
    assert clients.session(server, transport).run_cmd("echo back").std_out == b"back\r\n"


def test_message_sealed_for_a_dropped_connection_gets_400(server, clients, faults):
    # pywinrm keeps the body it sealed with the old connection's keys and re-sends it after
    # authenticating a new connection; Windows cannot unseal it and answers 400.
    protocol = clients.protocol(server, "ntlm-http")
    shell = protocol.open_shell()
    faults.add("winrm", "drop", match={"action": "Command"})
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.run_command(shell, "echo lost")

    with pytest.raises(winrm.exceptions.WinRMTransportError) as error:
        protocol.run_command(shell, "echo again")
    assert error.value.code == 400


@pytest.mark.parametrize("status, body", [(503, "Service Unavailable"), (500, ""), (500, "not xml")])
def test_http_error(server, clients, transport, faults, status, body):
    faults.add("winrm", "http_error", match={"action": "Create"}, times=2, params={"status": status, "body": body})

    with pytest.raises(winrm.exceptions.WinRMTransportError) as pywinrm_error:
        clients.session(server, transport).run_cmd("echo never")
    with pytest.raises(pypsrp.exceptions.WinRMTransportError) as pypsrp_error:
        clients.client(server, transport).execute_cmd("echo never")

    assert (pywinrm_error.value.code, pywinrm_error.value.response_text) == (status, body)
    assert (pypsrp_error.value.code, pypsrp_error.value.response_text) == (status, body)


def test_rules_match_on_host_and_shell(start_server, clients, faults):
    hv1, hv2 = start_server("hv1"), start_server("hv2")
    faults.add("winrm", "wsman_fault", match={"host": "hv2", "action": "Create"}, times=0)

    assert clients.session(hv1, "basic-https").run_cmd("echo fine").status_code == 0
    with pytest.raises(winrm.exceptions.WSManFaultError):
        clients.session(hv2, "basic-https").run_cmd("echo never")

    protocol = clients.protocol(hv1, "basic-https")
    doomed, spared = protocol.open_shell(), protocol.open_shell()
    faults.add("winrm", "wsman_fault", match={"shell_id": doomed, "action": "Command"})
    with pytest.raises(winrm.exceptions.WSManFaultError):
        protocol.run_command(doomed, "echo never")
    command = protocol.run_command(spared, "echo spared")
    assert protocol.get_command_output(spared, command)[0] == b"spared\r\n"


def test_http_401_mid_session_is_an_auth_error(server, clients, faults):
    faults.add("winrm", "http_error", match={"action": "Receive"}, times=2, params={"status": 401})

    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        clients.session(server, "basic-https").run_cmd("echo never")
    with pytest.raises(pypsrp.exceptions.AuthenticationError):
        clients.client(server, "basic-https").execute_cmd("echo never")
