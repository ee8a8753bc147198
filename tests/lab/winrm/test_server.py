"""Server-level behaviour: shell lookup, size limits, reply sizing, and a clean stop()."""
from __future__ import annotations

import socket
import threading
import time

import pypsrp.exceptions
import pytest
import requests
import winrm.exceptions
from pypsrp.shell import Process, WinRS


def test_unknown_shell_id(server, clients, transport):
    protocol = clients.protocol(server, transport)
    with pytest.raises(winrm.exceptions.WSManFaultError) as pywinrm_error:
        protocol.run_command("0D5B1C79-4E0C-4BDF-9E4F-4C1F8E1D2B3A", "echo never")
    fault = pywinrm_error.value
    assert (fault.wsman_fault_code, fault.fault_subcode) == (2150858843, "w:InvalidSelectors")

    shell = WinRS(clients.wsman(server, transport))
    shell.open()
    shell.close()  # the client keeps the ShellId selector of the deleted shell
    with pytest.raises(pypsrp.exceptions.WSManFaultError) as pypsrp_error:
        Process(shell, "echo", ["never"]).invoke()
    assert pypsrp_error.value.code == 2150858843


def test_request_size_limit(start_server, clients):
    server = start_server(max_envelope_kb=150)  # Windows 2008 R2's MaxEnvelopeSizekb
    protocol = clients.protocol(server, "ntlm-http")
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "stdin", console_mode_stdin=False)

    protocol.send_command_input(shell, command, b"x" * 100_000)  # 133 KB of base64: fits
    with pytest.raises(winrm.exceptions.WSManFaultError) as error:
        protocol.send_command_input(shell, command, b"x" * 200_000, end=True)  # Ansible's chunk: 267 KB
    assert error.value.fault_subcode == "w:EncodingLimit"

    protocol.send_command_input(shell, command, b"y", end=True)
    assert protocol.get_command_output(shell, command)[0].startswith(b"100001 ")


def test_default_limit_takes_ansible_sized_chunks_but_not_more(server, clients):
    protocol = clients.protocol(server, "basic-https")
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "stdin", console_mode_stdin=False)
    protocol.send_command_input(shell, command, b"x" * 200_000)
    with pytest.raises(winrm.exceptions.WSManFaultError):
        protocol.send_command_input(shell, command, b"x" * 400_000)  # 533 KB of base64 > 500 KB


def test_replies_fit_a_small_client_envelope(server, clients):
    with WinRS(clients.wsman(server, "ntlm-http", max_envelope_size=16384)) as shell:
        process = Process(shell, "output 100000")
        process.invoke()

    assert len(process.stdout) == 100_002
    receives = [r for r in server.requests if r.action == "Receive"]
    assert len(receives) >= 100_000 // 16384
    assert all(r.reply_size <= 16384 for r in receives)


def test_unsupported_action(server, clients):
    with pytest.raises(pypsrp.exceptions.WSManFaultError) as error:
        clients.wsman(server, "basic-https").get("http://schemas.microsoft.com/wbem/wsman/1/config")
    assert "not supported" in error.value.reason


def test_request_log_records_what_the_client_sent(server, clients):
    protocol = clients.protocol(server, "ntlm-http")
    shell = protocol.open_shell(codepage=65001, noprofile=True)
    command = protocol.run_command(shell, "stdin", console_mode_stdin=False)
    protocol.send_command_input(shell, command, b"12345", end=True)

    create, run, send = server.requests
    assert create.options == {"WINRS_NOPROFILE": "TRUE", "WINRS_CODEPAGE": "65001"}
    assert (run.action, run.shell_id, run.command_line, run.options["WINRS_CONSOLEMODE_STDIN"]) == (
        "Command", shell, "stdin", "FALSE")
    assert (send.command_id, send.stdin_size, send.listener, send.auth_scheme) == (command, 5, "http", "Negotiate")


def _port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_stop_closes_everything_even_with_busy_connections(start_server, clients):
    threads_before = set(threading.enumerate())
    server = start_server(max_receive_wait=30)

    # An idle keep-alive HTTPS connection ...
    idle = clients.session(server, "basic-https")
    idle.run_cmd("echo idle")
    # ... and a Receive blocked on a command still waiting for the rest of its stdin.
    protocol = clients.protocol(server, "ntlm-http")
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "stdin", console_mode_stdin=False)
    protocol.send_command_input(shell, command, b"half", end=False)
    outcome: list[object] = []

    def receive() -> None:
        try:
            outcome.append(protocol.get_command_output_raw(shell, command))
        except Exception as exc:
            outcome.append(exc)

    blocked = threading.Thread(target=receive)
    blocked.start()
    time.sleep(0.2)
    assert outcome == []

    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    blocked.join(timeout=2)

    assert not blocked.is_alive()
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)
    assert _port_is_closed(server.http_port) and _port_is_closed(server.https_port)
    assert set(threading.enumerate()) - threads_before == set()
