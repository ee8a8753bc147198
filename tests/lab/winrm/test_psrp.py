"""PowerShell Remoting (PSRP) over the WinRM transport, with pypsrp's RunspacePool and PowerShell."""
from __future__ import annotations

import json

import pytest
from pypsrp.complex_objects import PSInvocationState, RunspacePoolState
from pypsrp.powershell import PowerShell, RunspacePool

from smhv_lab.winrm import PipelineCommand

MB = 1024 * 1024


def test_execute_ps(server, clients, transport, executor):
    output, streams, had_errors = clients.client(server, transport).execute_ps("echo one\nWrite-Output two")

    assert (output, had_errors, streams.error) == ("one\ntwo", False, [])
    commands = executor.calls[0][2]["commands"]
    assert commands[0].text == "Invoke-Expression" and not commands[0].is_script
    assert commands[0].parameters == [("Command", "echo one\nWrite-Output two")]
    assert [r.action for r in server.requests][:3] == ["Create", "Receive", "Command"]


def test_error_records_do_not_fail_the_pipeline(server, clients, transport):
    output, streams, had_errors = clients.client(server, transport).execute_ps("Write-Error disk on fire\necho after")

    assert (output, had_errors) == ("after", False)  # like PowerShell: a non-terminating error
    assert [str(e) for e in streams.error] == ["disk on fire"]


def test_unknown_command_is_an_error_record(server, clients):
    streams, had_errors = clients.client(server, "ntlm-http").execute_ps("Get-Nothing")[1:]

    assert not had_errors
    assert str(streams.error[0]).startswith("The term 'Get-Nothing' is not recognized as the name of a cmdlet")


def test_add_script_with_parameters(server, clients, transport, executor):
    request = json.dumps({"op": "vm.list", "args": {"host": "hv1"}})
    with RunspacePool(clients.wsman(server, transport)) as pool:
        ps = PowerShell(pool).add_script("param($Request)\n$params").add_parameter("Request", request)
        output = ps.invoke()

    assert output == [{"Request": request}]
    expected = PipelineCommand("param($Request)\n$params", is_script=True, parameters=[("Request", request)])
    assert executor.calls[0][2]["commands"] == [expected]


def test_pipeline_input_runs_after_end_of_input(server, clients, transport, executor):
    with RunspacePool(clients.wsman(server, transport)) as pool:
        output = PowerShell(pool).add_script("$input").invoke(input=["a", 2, {"k": "v"}])

    assert output == ["a", 2, {"k": "v"}]
    assert executor.calls[0][2]["input"] == ["a", 2, {"k": "v"}]


def test_terminating_error_fails_the_pipeline(server, clients, transport):
    with RunspacePool(clients.wsman(server, transport)) as pool:
        ps = PowerShell(pool).add_script("echo partial\nthrow VM not found")
        output = ps.invoke()

    assert ps.state == PSInvocationState.FAILED
    assert ps.had_errors
    assert output == ["partial"]  # as in PowerShell, output written before the throw still arrives
    assert str(ps.streams.error[-1]) == "VM not found"


def test_one_megabyte_output_is_fragmented_to_the_envelope(server, clients, transport):
    with RunspacePool(clients.wsman(server, transport)) as pool:
        output = PowerShell(pool).add_script(f"output {MB}").invoke()

    assert output == [("0123456789abcdef" * (MB // 16))]
    receives = [r for r in server.requests if r.action == "Receive" and r.command_id]
    # pypsrp raises its MaxEnvelopeSize to 512000 once it sees protocol 2.3, so at least 3 replies.
    assert len(receives) >= 3
    assert all(r.reply_size <= 512000 for r in receives)


def test_script_larger_than_one_envelope_arrives_whole(server, clients, executor):
    script = "echo " + "s" * 700_000
    with RunspacePool(clients.wsman(server, "ntlm-http")) as pool:
        output = PowerShell(pool).add_script(script).invoke()

    assert output == ["s" * 700_000]
    assert executor.calls[0][2]["commands"][0].text == script
    assert [r.action for r in server.requests].count("Send") >= 1  # CreatePipeline continued over Send


def test_slow_pipeline_is_polled_through_operation_timeouts(server, clients):
    output = clients.client(server, "ntlm-https").execute_ps("sleep 0.4\necho done")[0]

    assert output == "done"
    assert sum(r.action == "Receive" and r.fault == 2150858793 for r in server.requests) >= 2


def test_concurrent_pipelines_get_their_own_output(server, clients, transport):
    with RunspacePool(clients.wsman(server, transport), max_runspaces=2) as pool:
        slow = PowerShell(pool).add_script("sleep 0.2\necho slow")
        fast = PowerShell(pool).add_script("echo fast")
        slow.begin_invoke()
        fast.begin_invoke()
        assert fast.end_invoke() == ["fast"]
        assert slow.end_invoke() == ["slow"]


def test_first_pool_receive_has_data_ready(server, clients):
    # RunspacePool.open() does not retry the OperationTimeout fault: the opening Receive must answer.
    with RunspacePool(clients.wsman(server, "basic-https")) as pool:
        assert pool.state == RunspacePoolState.OPENED
    first_receive = next(r for r in server.requests if r.action == "Receive")
    assert (first_receive.command_id, first_receive.fault) == (None, None)


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_raw_ntlm_and_spnego(server, clients, auth):
    output = clients.client(server, "ntlm-http", auth=auth).execute_ps("echo over " + auth)[0]
    assert output == "over " + auth


class _BrokenExecutor:
    def run_pipeline(self, host, commands, input_objects, runspace=None):
        raise RuntimeError("agent crashed")


def test_executor_exception_fails_the_pipeline(start_server, clients):
    server = start_server(executor=_BrokenExecutor())
    streams, had_errors = clients.client(server, "ntlm-http").execute_ps("echo x")[1:]
    assert had_errors
    assert str(streams.error[-1]) == "RuntimeError: agent crashed"
