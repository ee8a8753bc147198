"""The agent sent once per RunspacePool, over real PSRP (pypsrp, NTLM, message encryption) to the lab.

The lab's runspace remembers what a dot-sourced agent script defined, as PowerShell's does: the short call
`Invoke-SmhvAgent -Request ... -AgentSha ...` works only in a pool where the script ran, and anywhere else
fails the way PowerShell fails an unknown command, so a client that skipped the script cannot pass here.
"""
from __future__ import annotations

import collections

import pytest
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from smhv_lab.hyperv.executor import PS_NOT_RECOGNIZED
from smhv_lab.winrm import soap
from smhv_lab.winrm.psrp import PsrpShell

REQUEST = agent.encode_request("path_info", {"paths": ["J:\\"]}, False)
ERROR_CATEGORY_OBJECT_NOT_FOUND = 13


@pytest.fixture
def pool(connect):
    """A raw pypsrp RunspacePool on the lab host, opened with the settings HostClient uses."""
    wsman = WSMan(**connect("psrp", "ntlm-http").settings.pypsrp_kwargs())
    pools = []

    def open_pool():
        opened = RunspacePool(wsman)
        opened.open()
        pools.append(opened)
        return opened

    yield open_pool
    for opened in pools:
        opened.close()
    wsman.close()


def short_call(pool):
    pipeline = PowerShell(pool)
    pipeline.add_cmdlet(agent.ENTRY_FUNCTION).add_parameter("Request", REQUEST).add_parameter("AgentSha", agent.AGENT_SHA)
    pipeline.invoke()
    return pipeline


def script_call(pool, use_local_scope):
    pipeline = PowerShell(pool)
    pipeline.add_script(agent.AGENT_SCRIPT, use_local_scope=use_local_scope).add_parameter("Request", REQUEST)
    pipeline.invoke()
    return pipeline


def assert_command_not_found(pipeline):
    assert pipeline.state == PSInvocationState.FAILED and pipeline.had_errors and not pipeline.output
    record = pipeline.streams.error[-1]
    assert record.fq_error == "CommandNotFoundException" and record.reason == "CommandNotFoundException"
    assert record.category == ERROR_CATEGORY_OBJECT_NOT_FOUND and record.target_name == "Invoke-SmhvAgent"
    assert str(record) == PS_NOT_RECOGNIZED.format("Invoke-SmhvAgent")
    assert str(record).startswith("The term 'Invoke-SmhvAgent' is not recognized as the name of a cmdlet, function, "
                                  "script file, or operable program.")


def answer_of(pipeline):
    assert pipeline.state == PSInvocationState.COMPLETED, pipeline.streams.error
    return agent.decode_response(str(pipeline.output[0]))


def test_the_short_call_fails_in_a_fresh_runspace_like_powershell(pool, executor):
    assert_command_not_found(short_call(pool()))
    assert not executor.requests  # nothing ran


def test_the_script_dot_sourced_defines_the_agent_for_the_pool_only(pool):
    first = pool()
    assert answer_of(script_call(first, use_local_scope=False))["ok"]
    assert answer_of(short_call(first))["result"]["paths"][0]["exists"] is True
    assert answer_of(short_call(first))["ok"]
    assert_command_not_found(short_call(pool()))  # another pool is another runspace


def test_unset_use_local_scope_is_dot_sourced_too(pool):
    # PowerShell's Command: `_useLocalScope ?? false` for a script, so pypsrp's default (none sent) dot-sources.
    opened = pool()
    assert answer_of(script_call(opened, use_local_scope=None))["ok"]
    assert answer_of(short_call(opened))["ok"]


def test_a_script_in_a_local_scope_leaves_nothing_defined(pool):
    opened = pool()
    assert answer_of(script_call(opened, use_local_scope=True))["ok"]
    assert_command_not_found(short_call(opened))


def test_an_older_agent_in_the_runspace_answers_a_version_mismatch(pool, server):
    opened = pool()
    script_call(opened, use_local_scope=False)
    runspace = only_runspace(server)
    runspace.functions["invoke-smhvagent"] = "0123456789abcdef"
    answer = answer_of(short_call(opened))
    assert answer["error"]["code"] == "AGENT_VERSION_MISMATCH" and answer["error"]["details"] == {"agent_sha": "0123456789abcdef"}


def only_runspace(server):
    shells = [shell for shell in server.shells.snapshot() if isinstance(shell, PsrpShell)]
    assert len(shells) == 1
    return shells[0].runspace


def messages(server, since=0):
    """The WS-Management messages the lab received from its `since`th on, counted by action, and the Receives among them
    answered with OperationTimeout. A call's pipeline takes one Receive, one more when its first output comes before its
    end, and one per OperationTimeout (after 0.2 s here): how many of those depends on the machine's load."""
    received = server.requests[since:]
    timeouts = sum(1 for request in received if request.action == "Receive" and request.fault == soap.OPERATION_TIMEOUT)
    return collections.Counter(request.action for request in received), timeouts


def test_a_series_of_calls_sends_the_script_once(connect, server, executor):
    client = connect("psrp", "ntlm-https")
    facts = client.call("host_facts").result
    for _round in range(10):
        assert client.call("host_facts").result == facts
        assert client.call("path_info", {"paths": ["J:\\"]}).result["paths"][0]["exists"] is True
    client.close()
    assert client.stats.agent_scripts == 1 and client.stats.agent_resends == 0
    # Open (Create + Receive), one Command and at least one Receive per call, close (Delete); nothing else, and the
    # client counts every message it sent.
    sent, timeouts = messages(server)
    assert sent == {"Create": 1, "Command": 21, "Receive": sent["Receive"], "Delete": 1}
    assert 1 + 21 <= sent["Receive"] <= 1 + 21 * 2 + timeouts and client.stats.round_trips == sum(sent.values())
    assert len(executor.requests) == 21 and all(request["ok"] for request in executor.requests)


def test_request_data_stays_data_in_the_short_call(connect, world):
    client = connect("psrp", "ntlm-http")
    client.call("host_facts")
    path = "J:\\SnapInfo\\a'; Remove-VM *; '$(hostname).json"
    assert client.call("file_write", {"path": path, "content": "x`$env:PATH", "create_dirs": True}).changed
    assert client.call("file_read", {"paths": [path]}).result["files"][0]["content"] == "x`$env:PATH"
    assert client.stats.agent_scripts == 1


@pytest.mark.parametrize("older", [False, True], ids=["runspace_reset", "older_agent"])
def test_the_client_resends_the_script_when_the_runspace_lost_or_changed_the_agent(connect, server, executor, older):
    client = connect("psrp", "ntlm-http")
    client.call("host_facts")
    runspace = only_runspace(server)
    if older:
        runspace.functions["invoke-smhvagent"] = "0123456789abcdef"
    else:
        runspace.functions.clear()
    before, logged = client.stats.round_trips, len(server.requests)
    assert client.call("path_info", {"paths": ["J:\\"]}).result["paths"][0]["exists"] is True
    # The short call's Command and Receives, then the script's.
    sent, timeouts = messages(server, logged)
    assert sent == {"Command": 2, "Receive": sent["Receive"]} and 2 <= sent["Receive"] <= 2 * 2 + timeouts
    assert client.stats.round_trips - before == sum(sent.values())
    assert client.stats.agent_resends == 1 and client.stats.agent_scripts == 2
    before, logged = client.stats.round_trips, len(server.requests)
    client.call("host_facts")
    sent, timeouts = messages(server, logged)
    assert sent == {"Command": 1, "Receive": sent["Receive"]} and 1 <= sent["Receive"] <= 2 + timeouts
    assert client.stats.round_trips - before == sum(sent.values()) and client.stats.agent_scripts == 2
    assert [request["op"] for request in executor.requests] == ["host_facts", "path_info", "host_facts"]
