"""The real agent over the real protocols: pypsrp (RunspacePool + add_script) and pywinrm (bootstrap
+ stdin in chunks) against the lab's WinRM server running AgentExecutor over the tiny world."""
from __future__ import annotations


import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from winrm.protocol import Protocol

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.sessions import encoded_bootstrap, winrs_stdin
from smhv_lab.winrm import WinRMServer

USER, PASSWORD = "LAB\\smhv-admin", "Lab-Passw0rd!"
HOSTILE = "a'; Remove-VM *; ' $(Stop-Computer) `\u00e9\u4e2d"
HOSTILE_ID = "7d2c8e1a-1111-4f0e-9c3b-5a6b7c8d9e0f"


@pytest.fixture
def server(world, executor, faults, add_vm):
    add_vm(HOSTILE, HOSTILE_ID, "J:\\hostile")
    with WinRMServer("hv1", username=USER, password=PASSWORD, executor=executor, faults=faults,
                     tls_context=None, max_receive_wait=0.2) as running:
        yield running


def psrp_call(server, op, args):
    wsman = WSMan("127.0.0.1", port=server.http_port, ssl=False, auth="ntlm", username=USER, password=PASSWORD)
    with wsman, RunspacePool(wsman) as pool:
        shell = PowerShell(pool)
        shell.add_script(agent.AGENT_SCRIPT).add_parameter("Request", agent.encode_request(op, args, False))
        output = shell.invoke()
        assert not shell.had_errors
    return agent.decode_response("\n".join(str(o) for o in output))


def winrs_call(server, op, args):
    protocol = Protocol(f"http://127.0.0.1:{server.http_port}/wsman", transport="ntlm", username=USER,
                        password=PASSWORD)
    shell = protocol.open_shell(codepage=65001)
    try:
        command = protocol.run_command(shell, "PowerShell", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy",
                                                             "Unrestricted", "-EncodedCommand", encoded_bootstrap()],
                                       console_mode_stdin=False)
        data = winrs_stdin(agent.encode_request(op, args, False))
        chunk = 16_000  # several Sends, as a large request would need
        for start in range(0, len(data), chunk):
            protocol.send_command_input(shell, command, data[start:start + chunk], end=start + chunk >= len(data))
        stdout, stderr, rc = protocol.get_command_output(shell, command)
        protocol.cleanup_command(shell, command)
    finally:
        protocol.close_shell(shell)
    assert rc == 0, stderr
    return agent.decode_response(stdout.decode("ascii"))


@pytest.mark.parametrize("send", [psrp_call, winrs_call], ids=["psrp", "winrs"])
def test_host_facts_and_vm_inventory(server, send, lun):
    facts = send(server, "host_facts", {})
    assert facts["ok"] and facts["result"]["computer_name"] == "HV1"
    assert agent.validate_result("host_facts", facts["result"]) == []
    inventory = send(server, "vm_inventory", {"names": [HOSTILE]})
    assert agent.validate_result("vm_inventory", inventory["result"]) == []
    (vm,) = inventory["result"]["vms"]
    assert (vm["name"], vm["id"]) == (HOSTILE, HOSTILE_ID)
    assert {f["storage"]["disk_serial"] for f in vm["files"]} == {lun.serial}
    every = send(server, "vm_inventory", {})["result"]["vms"]
    assert sorted(v["name"] for v in every) == sorted([HOSTILE, "vm1"])  # nothing was removed


def test_unknown_command_over_winrs_is_logged(server, executor):
    protocol = Protocol(f"http://127.0.0.1:{server.http_port}/wsman", transport="ntlm", username=USER,
                        password=PASSWORD)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "hostname")
    stderr, rc = protocol.get_command_output(shell, command)[1:]
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert rc == 1 and b"not recognized" in stderr
    assert executor.unrecognised[-1]["command"] == "hostname"
