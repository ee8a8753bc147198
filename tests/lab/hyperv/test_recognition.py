"""The executor answers the collection's agent, as a host receives it, and only that."""
from __future__ import annotations

import base64
import json

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.sessions import encoded_bootstrap, winrs_stdin
from smhv_lab.hyperv.ops import OPS
from smhv_lab.winrm import windows
from smhv_lab.winrm.executor import PipelineCommand

HOST = "hv1"  # the host conftest.world builds

BOOTSTRAP_ARGS = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand"]


def test_lab_implements_exactly_the_agent_ops():
    assert tuple(OPS) == agent.OPS


def test_winrs_bootstrap_and_stdin_run_the_agent(executor):
    request = agent.encode_request("host_facts", {}, False)
    for command, arguments in (("PowerShell", [*BOOTSTRAP_ARGS, encoded_bootstrap()]),  # pypsrp: one per argument
                               ("powershell.exe", [" ".join([*BOOTSTRAP_ARGS[:-1], "-enc", encoded_bootstrap()])])):
        result = executor.run_command(HOST, command, arguments, winrs_stdin(request))
        assert result.rc == 0 and result.stderr == b""
        answer = agent.decode_response(result.stdout.decode("ascii"))
        assert answer["ok"] and answer["result"]["computer_name"] == "HV1"


def test_winrs_stdin_after_the_sentinel_is_ignored(executor):
    stdin = winrs_stdin(agent.encode_request("host_facts", {}, False)) + b"trailing input\r\n"
    result = executor.run_command(HOST, "PowerShell", [*BOOTSTRAP_ARGS, encoded_bootstrap()], stdin)
    assert agent.decode_response(result.stdout.decode())["ok"]


def test_wrong_bootstrap_is_an_unknown_command(executor):
    script = "Get-Process | Stop-Process"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    result = executor.run_command(HOST, "PowerShell", ["-EncodedCommand", encoded], b"")
    assert result.rc == 1 and result.stderr.startswith(windows.CLIXML_HEADER)
    assert b"Get-Process" in result.stderr and b"is not recognized" in result.stderr
    assert executor.unrecognised[-1]["reason"] == "-EncodedCommand is not the agent's bootstrap"


def test_other_programs_get_cmd_exe_answer(executor):
    result = executor.run_command(HOST, "ipconfig", ["/all"], b"")
    assert result.rc == 1 and b"'ipconfig' is not recognized as an internal or external command" in result.stderr
    assert executor.unrecognised[-1]["command"] == "ipconfig /all"


def test_stale_agent_on_stdin_is_refused_with_a_clear_message(executor):
    payload = json.dumps({"script": agent.AGENT_SCRIPT + "\n# changed", "request": "{}"}).encode() + agent.STDIN_SENTINEL
    result = executor.run_command(HOST, "PowerShell", [*BOOTSTRAP_ARGS, encoded_bootstrap()], payload)
    assert result.rc == 1 and b"different version" in result.stderr and b"Restart the lab" in result.stderr


def test_psrp_agent_script_with_request_runs(executor):
    request = agent.encode_request("vm_inventory", {"names": ["vm1"]}, False)
    result = executor.run_pipeline(HOST, [PipelineCommand(agent.AGENT_SCRIPT, True, [("Request", request)])], [])
    answer = agent.decode_response(result.output[0])
    assert [vm["name"] for vm in answer["result"]["vms"]] == ["vm1"]
    assert executor.requests[-1]["op"] == "vm_inventory" and executor.requests[-1]["transport"] == "psrp"


def test_psrp_other_scripts_fail_like_unknown_commands(executor):
    result = executor.run_pipeline(HOST, [PipelineCommand("Get-VM | Remove-VM", True, [])], [])
    assert result.failed and "The term 'Get-VM' is not recognized" in result.reason
    result = executor.run_pipeline(HOST, [PipelineCommand("Invoke-Expression", False, [("Command", "hostname")])], [])
    assert result.failed and "'hostname'" in result.reason
    assert [u["transport"] for u in executor.unrecognised] == ["psrp", "psrp"]


def test_psrp_agent_without_request_fails_binding(executor):
    result = executor.run_pipeline(HOST, [PipelineCommand(agent.AGENT_SCRIPT, True, [])], [])
    assert result.failed and "mandatory parameters: Request" in result.reason
