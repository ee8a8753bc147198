"""HostClient over faked pypsrp/pywinrm: the agent call shape, connection reuse, polling, replies, retries."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys

import pytest
import requests.exceptions as requests_errors
import urllib3.exceptions as urllib3_errors
import winrm.transport
from pypsrp.exceptions import AuthenticationError
from winrm.exceptions import WinRMOperationTimeoutError

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import sessions as winhost_sessions
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import READ_ONLY_OPS
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.sessions import clixml_to_text, encoded_bootstrap, winrs_stdin


def reply(result=None, changed=False, warnings=()):
    return json.dumps({"ok": True, "changed": changed, "result": result or {}, "warnings": list(warnings)})


def agent_error(code, message, **details):
    return json.dumps({"ok": False, "error": {"code": code, "message": message, "details": details}})


def dropped():
    return requests_errors.ConnectionError(urllib3_errors.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")))


def refused():
    cause = urllib3_errors.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    cause.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return requests_errors.ConnectionError(urllib3_errors.MaxRetryError(None, "/wsman", cause))


# -- PSRP ---------------------------------------------------------------------------------------------

def test_psrp_call_sends_the_agent_script_with_the_request_as_parameter(psrp, make_client):
    psrp.script.calls = [[reply({"os": "Windows Server 2022"}, warnings=["w1"])]]
    client = make_client()
    answer = client.call("host_facts", {"detail": True}, check_mode=True)

    assert answer.result == {"os": "Windows Server 2022"}
    assert answer.changed is False and answer.warnings == ["w1"]
    pipeline = psrp.pipelines[0]
    assert pipeline.script == agent.AGENT_SCRIPT and pipeline.use_local_scope is False
    assert pipeline.parameters == [("Request", agent.encode_request("host_facts", {"detail": True}, True))]
    assert psrp.wsmans[0].kwargs == client.settings.pypsrp_kwargs()


def test_psrp_reuses_one_runspace_pool_and_closes_it(psrp, make_client):
    psrp.script.calls = [[reply()], [reply(changed=True)]]
    with make_client() as client:
        client.call("host_facts")
        assert client.call("file_write", {"path": "C:\\x", "content": ""}).changed is True
    assert len(psrp.wsmans) == len(psrp.pools) == 1
    assert psrp.pools[0].closed and psrp.wsmans[0].transport.closed
    # Create + Receive to open, Command + Receive per call, Delete to close
    assert client.stats.as_dict() == dict(calls=2, round_trips=7, connects=1, retries=0, agent_scripts=1, agent_resends=0,
                                          seconds=client.stats.seconds)


def test_psrp_polls_a_long_running_op_instead_of_failing_it(psrp, make_client):
    psrp.script.calls = [[None] * 5 + [reply({"done": True})]]
    assert make_client().call("disk_rescan").result == {"done": True}
    assert psrp.pipelines[0].polls == 6


def test_call_timeout_stops_the_pipeline(psrp, make_client):
    psrp.script.calls = [[None] * 1000]
    with pytest.raises(SmhvError) as caught:
        make_client().call("disk_rescan", timeout=0)
    assert caught.value.code == "HOST_TIMEOUT"
    assert "did not finish within 0 s" in caught.value.message
    assert psrp.pipelines[0].stopped


def test_output_without_agent_reply_is_a_protocol_error(psrp, make_client):
    garbage = "x" * 1000
    psrp.script.calls = [[([garbage], ["The term 'param' is not recognized as the name of a cmdlet"])]]
    with pytest.raises(SmhvError) as caught:
        make_client().call("host_facts")
    error = caught.value
    assert error.code == "HOST_PROTOCOL_ERROR"
    assert "sent no valid agent reply for op host_facts" in error.message
    assert "x" * 300 + "..." in error.message and "x" * 301 not in error.message
    assert "is not recognized" in error.message
    assert error.details["stdout"] == "x" * 300 + "..."


def test_agent_error_keeps_its_code_and_gains_host_and_op(psrp, make_client):
    psrp.script.calls = [[agent_error("VM_NOT_FOUND", "No VM named 'web01'.", vm="web01")]]
    with pytest.raises(SmhvError) as caught:
        make_client().call("vm_inventory", {"names": ["web01"]})
    error = caught.value
    assert error.code == "VM_NOT_FOUND"
    assert error.message == "No VM named 'web01'. (agent op vm_inventory on host hv01)"
    assert error.details == {"vm": "web01", "host": "hv01", "address": "10.0.0.1", "port": 5986, "op": "vm_inventory"}


@pytest.mark.parametrize("code", ["vm not found", "", "Vm_Not_Found"])
def test_agent_error_without_a_proper_code_is_agent_error(psrp, make_client, code):
    psrp.script.calls = [[agent_error(code, "boom")]]
    with pytest.raises(SmhvError) as caught:
        make_client().call("file_delete")
    assert caught.value.code == "AGENT_ERROR"


def test_reply_breaking_the_contract_is_a_protocol_error(psrp, make_client):
    psrp.script.calls = [[json.dumps({"ok": False, "error": {"message": "no code"}})]]
    with pytest.raises(SmhvError) as caught:
        make_client().call("host_facts")
    assert caught.value.code == "HOST_PROTOCOL_ERROR"
    assert "no error code and message" in caught.value.details["reason"]


# -- WinRS --------------------------------------------------------------------------------------------

def test_winrs_runs_the_bootstrap_and_streams_agent_and_request_on_stdin(winrs, make_client, monkeypatch):
    monkeypatch.setattr(winhost_sessions, "STDIN_CHUNK", 64)
    winrs.script.calls = [[WinRMOperationTimeoutError(), (b'{"ok": true, "changed": false, ', b"", 0, False),
                           (b'"result": {"n": 1}, "warnings": []}\r\n', b"", 0, True)]]
    client = make_client("winrm")
    request = agent.encode_request("vm_inventory", {"vms": ["a"]}, False)

    assert client.call("vm_inventory", {"vms": ["a"]}).result == {"n": 1}

    protocol = winrs.protocols[0]
    assert protocol.kwargs == client.settings.pywinrm_kwargs()
    assert protocol.shells == [{"codepage": 65001}]
    shell_id, command, arguments, options = protocol.commands[0]
    assert command == "PowerShell"
    assert arguments == ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand", encoded_bootstrap()]
    assert options == {"console_mode_stdin": False}
    command_ids, chunks, ends = zip(*protocol.inputs)
    assert set(command_ids) == {"COMMAND-1"}
    assert all(isinstance(data, bytes) and len(data) <= 64 for data in chunks)
    assert b"".join(chunks) == winrs_stdin(request)
    assert ends == (False,) * (len(chunks) - 1) + (True,)
    assert protocol.cleaned == ["COMMAND-1"]


def test_winrs_reuses_the_shell_and_deletes_it_on_close(winrs, make_client):
    winrs.script.calls = [[reply()], [reply()]]
    with make_client("winrm") as client:
        client.call("host_facts")
        client.call("host_facts")
    protocol, = winrs.protocols
    assert len(protocol.shells) == 1 and len(protocol.commands) == 2
    assert protocol.closed_shells == ["SHELL-1"] and protocol.transport.closed
    assert client.stats.connects == 1


def test_winrs_failure_reports_rc_and_clixml_errors_as_text(winrs, make_client):
    stderr = (b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              b'<S S="Error">Cannot bind argument_x000D__x000A_</S><S S="Error">to parameter Request_x000D__x000A_</S></Objs>')
    winrs.script.calls = [[(b"", stderr, 1, True)]]
    with pytest.raises(SmhvError) as caught:
        make_client("winrm").call("host_facts")
    error = caught.value
    assert error.code == "HOST_PROTOCOL_ERROR"
    assert error.details["rc"] == 1
    assert error.details["stderr"] == "Cannot bind argument\r\nto parameter Request\r\n"


def test_clixml_to_text():
    objs = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{}</Objs>'
    progress = '<Obj S="progress" RefId="0"><MS><I64 N="SourceId">1</I64></MS></Obj>'
    two_blocks = "#< CLIXML\r\n" + objs.format('<S S="Error">first_x000A_</S>' + progress) + objs.format('<S S="Error">a_x005F_b</S>')
    assert clixml_to_text(two_blocks.encode()) == "first\na_b"
    assert clixml_to_text("#< CLIXML\r\n" + objs.format(progress)) == ""
    assert clixml_to_text('#< CLIXML\r\n' + objs.format('<S S="Error">_xD83D__xDE00_</S>')) == "\U0001F600"
    assert clixml_to_text(b"plain text\r\n") == "plain text\r\n"
    assert clixml_to_text("#< CLIXML\r\n<Objs><broken") == "#< CLIXML\r\n<Objs><broken"


# -- retries ------------------------------------------------------------------------------------------

def test_read_only_op_is_retried_on_a_fresh_connection(psrp, make_client, no_retry_pause):
    psrp.script.calls = [[dropped()], [reply({"vms": []})]]
    client = make_client()
    assert client.call("vm_inventory").result == {"vms": []}
    assert len(psrp.wsmans) == 2 and psrp.wsmans[0].transport.closed
    assert client.stats.retries == 1 and client.stats.connects == 2
    assert no_retry_pause == [1.0]


def test_state_changing_op_is_not_resent_after_it_may_have_run(psrp, make_client):
    psrp.script.calls = [[dropped()], [reply()]]
    with pytest.raises(SmhvError) as caught:
        make_client().call("file_write", {"path": "C:\\x", "content": ""})
    error = caught.value
    assert error.code == "HOST_UNREACHABLE"
    assert "may have run on the host; it was not re-sent because it changes state" in error.message
    assert error.details["may_have_run"] is True
    assert len(psrp.pipelines) == 1


def test_caller_may_declare_an_idempotent_write_retry_safe(psrp, make_client):
    psrp.script.calls = [[dropped()], [reply(changed=True)]]
    client = make_client()
    assert client.call("file_write", {"path": "C:\\x", "content": ""}, retry_safe=True).changed is True
    assert client.stats.retries == 1


def test_caller_may_forbid_repeating_a_read(psrp, make_client):
    psrp.script.calls = [[dropped()], [reply()]]
    with pytest.raises(SmhvError) as caught:
        make_client().call("file_read", {"paths": ["C:\\x"]}, retry_safe=False)
    assert caught.value.details["may_have_run"] is True


def test_state_changing_op_is_retried_when_the_connection_never_opened(psrp, make_client, no_retry_pause):
    psrp.script.open_failures = [refused(), refused()]
    psrp.script.calls = [[reply(changed=True)]]
    client = make_client()
    assert client.call("disk_rescan").changed is True
    assert len(psrp.pipelines) == 1 and client.stats.retries == 2
    assert no_retry_pause == [1.0, 2.0]


def test_retries_stop_after_operation_retries(psrp, make_client, no_retry_pause):
    psrp.script.calls = [[dropped()]] * 3
    with pytest.raises(SmhvError) as caught:
        make_client(operation_retries=2).call("host_facts")
    assert caught.value.code == "HOST_UNREACHABLE"
    assert caught.value.message.endswith("(gave up after 3 attempts)")
    assert caught.value.details["attempts"] == 3
    assert no_retry_pause == [1.0, 2.0]


def test_failure_that_would_repeat_is_not_retried(psrp, make_client, secret):
    psrp.script.open_failures = [AuthenticationError("Failed to authenticate the user CORP\\svc with ntlm (password %s)" % secret)]
    client = make_client()
    with pytest.raises(SmhvError) as caught:
        client.call("host_facts")
    error = caught.value
    assert error.code == "HOST_AUTH_FAILED" and client.stats.retries == 0
    assert secret not in error.message and secret not in repr(error.details) and secret not in str(error)


def test_winrs_read_timeout_is_retried_for_a_read_only_op(winrs, make_client):
    timeout = requests_errors.ReadTimeout(urllib3_errors.ReadTimeoutError(None, "/wsman", "Read timed out."))
    winrs.script.calls = [[timeout], [reply({"ok": 1})]]
    client = make_client("winrm")
    assert client.call("file_read", {"path": "C:\\x"}).result == {"ok": 1}
    assert len(winrs.protocols) == 2 and winrs.protocols[0].transport.closed


def test_a_bug_propagates_and_drops_the_connection(psrp, make_client):
    psrp.script.calls = [[KeyError("PipelineState")], [reply()]]
    client = make_client()
    with pytest.raises(KeyError):
        client.call("host_facts")
    assert psrp.wsmans[0].transport.closed
    client.call("host_facts")
    assert len(psrp.wsmans) == 2


# -- dependencies ---------------------------------------------------------------------------------------

def test_missing_pypsrp_is_reported_when_used(make_client, monkeypatch):
    monkeypatch.setattr(winhost_sessions, "PYPSRP_IMPORT_ERROR", ImportError("No module named 'pypsrp'"))
    client = make_client()  # constructing a client needs no library
    with pytest.raises(SmhvError) as caught:
        client.call("host_facts")
    assert caught.value.code == "MISSING_DEPENDENCY"
    assert "pip install pypsrp" in caught.value.message


def test_missing_pywinrm_is_reported_when_used(make_client, monkeypatch):
    monkeypatch.setitem(sys.modules, "winrm.protocol", None)  # what `import winrm.protocol` sees when pywinrm is absent
    client = make_client("winrm")
    with pytest.raises(SmhvError) as caught:
        client.call("host_facts")
    assert caught.value.code == "MISSING_DEPENDENCY"
    assert "pip install pywinrm" in caught.value.message


def test_a_psrp_module_does_not_import_pywinrm():
    # pywinrm with requests_ntlm and spnego cost every module ~80 ms of start-up (issue 20); only WinRS needs it.
    probe = ("import sys; import ansible_collections.netapp_hyperv.smhv.plugins.modules.smhv_ping, "
             "ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('winrm', 'requests_ntlm')))")
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.strip()
    assert loaded == "[]"


def test_pywinrm_without_kerberos_support_is_a_missing_dependency(make_client, monkeypatch):
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    with pytest.raises(SmhvError) as caught:
        make_client("winrm", auth="kerberos").call("host_facts")
    assert caught.value.code == "MISSING_DEPENDENCY"
    assert "pywinrm[kerberos]" in caught.value.message


def test_only_reading_agent_ops_are_retry_safe():
    assert READ_ONLY_OPS <= set(agent.OPS)  # a misspelt op would silently never be retried
    assert not READ_ONLY_OPS & {"file_write", "file_delete", "disk_rescan"}


def test_connect_opens_the_pool_the_first_call_then_uses(psrp, make_client):
    psrp.script.calls = [[reply()]]
    with make_client() as client:
        client.connect()
        client.connect()  # already open: nothing sent
        assert psrp.pools[0].opened and client.stats.round_trips == 2 and client.stats.calls == 0
        client.call("host_facts")
    assert len(psrp.pools) == 1
    assert client.stats.as_dict() == dict(calls=1, round_trips=5, connects=1, retries=0, agent_scripts=1, agent_resends=0,
                                          seconds=client.stats.seconds)


def test_connect_never_raises_and_the_first_call_connects_again(psrp, make_client, no_retry_pause):
    psrp.script.open_failures = [refused()]
    psrp.script.calls = [[reply()]]
    client = make_client()
    client.connect()
    assert client.stats.connects == 0 and psrp.wsmans[0].transport.closed
    assert client.call("host_facts").result == {} and client.stats.connects == 1 and client.stats.retries == 0
