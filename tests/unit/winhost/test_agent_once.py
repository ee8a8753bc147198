"""PSRP sends the agent script once per RunspacePool: the first call runs it dot-sourced (UseLocalScope false),
later calls send only Invoke-SmhvAgent with the request and the agent's hash as parameter values, and a short
call that finds no agent of this version in the runspace is sent again, once, with the script."""
from __future__ import annotations

import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

from .conftest import ErrorRecord, Failed, command_not_found
from .test_client import agent_error, dropped, reply

WRITE = ("file_write", {"path": "C:\\x", "content": "a'; Remove-VM *; '"})


def mismatch(sha="0123456789abcdef"):
    return agent_error("AGENT_VERSION_MISMATCH", "The agent defined in this runspace is another version.", agent_sha=sha)


def is_script(pipeline, request):
    return (pipeline.script == agent.AGENT_SCRIPT and pipeline.use_local_scope is False and pipeline.command is None
            and pipeline.parameters == [("Request", request)])


def is_short(pipeline, request):
    return (pipeline.script is None and pipeline.command == agent.ENTRY_FUNCTION == "Invoke-SmhvAgent"
            and pipeline.parameters == [("Request", request), ("AgentSha", agent.AGENT_SHA)])


def test_agent_script_carries_the_hash_the_short_call_sends():
    assert len(agent.AGENT_SHA) == 16 and "@@AGENT_SHA@@" not in agent.AGENT_SCRIPT
    assert agent.AGENT_SCRIPT.count("'%s'" % agent.AGENT_SHA) == 2  # the function's comparison and the script's call
    assert agent.AGENT_SCRIPT.rstrip().endswith("Invoke-SmhvAgent -Request $Request -AgentSha '%s'" % agent.AGENT_SHA)


def test_first_call_sends_the_script_later_calls_only_the_entry_function(psrp, make_client):
    psrp.script.calls = [[reply({"n": 1})], [reply({"n": 2})], [reply({"n": 3}, changed=True)]]
    with make_client() as client:
        assert client.call("host_facts").result == {"n": 1}
        assert client.call("vm_inventory", {"names": ["vm'1"]}).result == {"n": 2}
        assert client.call(*WRITE).changed is True
    first, second, third = psrp.pipelines
    assert is_script(first, agent.encode_request("host_facts", {}, False))
    # The request is the same JSON as the script's -Request would get: data, never code.
    assert is_short(second, agent.encode_request("vm_inventory", {"names": ["vm'1"]}, False))
    assert is_short(third, agent.encode_request(*WRITE, False))
    # Open 2, three calls of Command + Receive, Delete 1.
    assert client.stats.round_trips == 9 and client.stats.agent_scripts == 1 and client.stats.agent_resends == 0


@pytest.mark.parametrize("answer", [command_not_found(), mismatch()], ids=["command_not_found", "version_mismatch"])
def test_a_short_call_without_this_agent_is_sent_again_with_the_script(psrp, make_client, answer):
    psrp.script.calls = [[reply()], [answer], [reply({"again": True}, changed=True)], [reply({"short": True})]]
    with make_client() as client:
        client.call("host_facts")
        # A write too: the short call did not run the op, so sending it again is harmless.
        assert client.call(*WRITE).result == {"again": True}
        assert client.call("path_info", {"paths": ["C:\\"]}).result == {"short": True}
    request = agent.encode_request(*WRITE, False)
    assert is_short(psrp.pipelines[1], request) and is_script(psrp.pipelines[2], request)
    assert is_short(psrp.pipelines[3], agent.encode_request("path_info", {"paths": ["C:\\"]}, False))
    assert len(psrp.pools) == 1 and client.stats.retries == 0
    # Every exchange counts: open 2, four pipelines of Command + Receive, Delete 1.
    assert client.stats.round_trips == 11 and client.stats.agent_scripts == 2 and client.stats.agent_resends == 1


def test_the_script_is_resent_once_only(psrp, make_client):
    other = Failed([ErrorRecord(fq_error="ParseException", message="Missing closing '}'")])
    psrp.script.calls = [[reply()], [command_not_found()], [other]]
    client = make_client()
    client.call("host_facts")
    with pytest.raises(SmhvError) as failure:
        client.call("host_facts")
    assert failure.value.code == "HOST_PROTOCOL_ERROR" and "Missing closing" in failure.value.details["stderr"]
    assert len(psrp.pipelines) == 3


@pytest.mark.parametrize("answer", [
    Failed([ErrorRecord(fq_error="RuntimeException", message="Invoke-SmhvAgent failed")]),
    agent_error("VM_NOT_FOUND", "VM 'x' is not registered."),
], ids=["other_failure", "agent_error"])
def test_other_short_call_failures_are_not_resent(psrp, make_client, answer):
    psrp.script.calls = [[reply()], [answer]]
    client = make_client()
    client.call("host_facts")
    with pytest.raises(SmhvError):
        client.call("vm_inventory")
    assert len(psrp.pipelines) == 2 and client.stats.agent_resends == 0


def test_a_command_not_found_for_the_script_itself_is_not_a_resend_loop(psrp, make_client):
    # The script call failing (whatever the reason) leaves the agent undefined: the next call sends it again.
    psrp.script.calls = [[command_not_found("Get-Nothing")], [reply({"ok": 1})]]
    client = make_client()
    with pytest.raises(SmhvError):
        client.call("host_facts")
    assert client.call("host_facts").result == {"ok": 1}
    assert all(pipeline.script == agent.AGENT_SCRIPT for pipeline in psrp.pipelines) and len(psrp.pipelines) == 2


def test_an_agent_error_from_the_script_call_still_defines_the_agent(psrp, make_client):
    psrp.script.calls = [[agent_error("FILE_NOT_FOUND", "no")], [reply()]]
    client = make_client()
    with pytest.raises(SmhvError):
        client.call("file_read", {"paths": ["C:\\x"]})
    client.call("host_facts")
    assert psrp.pipelines[0].script == agent.AGENT_SCRIPT and psrp.pipelines[1].command == agent.ENTRY_FUNCTION


def test_a_new_pool_gets_the_script_again(psrp, make_client):
    psrp.script.calls = [[reply()], [dropped()], [reply({"retried": True})], [reply()]]
    client = make_client(operation_retries=1)
    client.call("host_facts")
    assert client.call("vm_inventory").result == {"retried": True}  # read-only: retried on a fresh pool
    client.call("host_facts")
    assert len(psrp.pools) == 2
    assert [p.script is not None for p in psrp.pipelines] == [True, False, True, False]


def test_a_resend_that_drops_is_reported_as_may_have_run(psrp, make_client):
    psrp.script.calls = [[reply()], [command_not_found()], [dropped()]]
    client = make_client(operation_retries=2)
    client.call("host_facts")
    with pytest.raises(SmhvError) as failure:
        client.call(*WRITE)
    assert failure.value.details.get("may_have_run") is True and len(psrp.pipelines) == 3


def test_version_mismatch_is_what_the_agent_answers():
    code = json.loads(mismatch())["error"]["code"]
    assert code == agent.VERSION_MISMATCH_CODE and '"code":"%s"' % code in agent.AGENT_SCRIPT
