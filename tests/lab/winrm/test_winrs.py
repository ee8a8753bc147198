"""WinRS cmd shell behaviour, through pywinrm and pypsrp, over every transport."""
from __future__ import annotations

import base64
import hashlib

import pytest
from pypsrp.shell import Process, SignalCode, WinRS

MB = 1024 * 1024


def _expected_auth(transport: str) -> tuple[str, bool]:
    """(auth scheme the server should log, whether bodies should arrive sealed)."""
    return ("Basic", False) if transport.startswith("basic") else ("Negotiate", transport.endswith("http"))


def test_run_cmd(server, clients, transport, executor):
    result = clients.session(server, transport).run_cmd("echo", ["hello", "world"])

    assert (result.status_code, result.std_out, result.std_err) == (0, b"hello world\r\n", b"")
    assert executor.calls[0][2]["line"] == "echo hello world"
    scheme, sealed = _expected_auth(transport)
    actions = [(r.action, r.auth_scheme, r.encrypted) for r in server.requests]
    assert actions == [(a, scheme, sealed) for a in ("Create", "Command", "Receive", "Signal", "Delete")]


def test_run_ps_decodes_the_script_and_cleans_clixml_errors(server, clients, transport):
    result = clients.session(server, transport).run_ps("echo before\nWrite-Error it broke")

    assert (result.status_code, result.std_out, result.std_err) == (1, b"before\r\n", b"it broke")
    command = next(r for r in server.requests if r.action == "Command")
    assert command.script == "echo before\nWrite-Error it broke"
    assert command.command_line.startswith("powershell -encodedcommand ")


def test_progress_clixml_keeps_rc_zero(server, clients):
    result = clients.session(server, "ntlm-http").protocol
    shell = result.open_shell()
    script = base64.b64encode("progress\necho done".encode("utf-16-le")).decode()
    command = result.run_command(shell, "powershell", ["-NoProfile", "-EncodedCommand", script])
    stdout, stderr, rc = result.get_command_output(shell, command)

    assert (stdout, rc) == (b"done\r\n", 0)
    assert stderr.startswith(b"#< CLIXML\r\n") and b'S="progress"' in stderr


def test_unknown_command_answers_like_cmd_exe(server, clients, transport):
    result = clients.session(server, transport).run_cmd("frobnicate --now")

    assert result.status_code == 1
    assert result.std_err == (b"'frobnicate' is not recognized as an internal or external command,\r\n"
                              b"operable program or batch file.\r\n")


@pytest.mark.parametrize("rc", [0, 3, -1073741510, 2147483647])
def test_exit_codes(server, clients, rc):
    assert clients.session(server, "ntlm-http").run_cmd(f"exit {rc}").status_code == rc


def test_one_megabyte_of_output_comes_back_in_envelope_sized_chunks(server, clients, transport):
    result = clients.session(server, transport).run_cmd(f"output {MB}")

    assert result.std_out == ("0123456789abcdef" * (MB // 16)).encode() + b"\r\n"
    receives = [r for r in server.requests if r.action == "Receive"]
    # pywinrm announces MaxEnvelopeSize 153600: the megabyte needs several replies, none larger.
    assert len(receives) >= MB // 153600
    assert all(r.reply_size <= 153600 for r in receives)


def test_one_megabyte_of_stdin_sent_in_chunks_pywinrm(server, clients, transport, executor):
    data = bytes(range(256)) * (MB // 256)
    protocol = clients.protocol(server, transport)
    shell = protocol.open_shell(codepage=65001)
    command = protocol.run_command(shell, "stdin", console_mode_stdin=False)
    for offset in range(0, len(data), 200_000):  # Ansible's chunk size
        protocol.send_command_input(shell, command, data[offset:offset + 200_000],
                                    end=offset + 200_000 >= len(data))
    output = protocol.get_command_output(shell, command)
    stdout, rc = output[0], output[2]
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)

    assert (stdout, rc) == (f"{MB} {hashlib.sha256(data).hexdigest()}\r\n".encode(), 0)
    sends = [r for r in server.requests if r.action == "Send"]
    assert [r.stdin_size for r in sends] == [200_000] * 5 + [MB - 1_000_000]
    assert executor.calls[0][2]["stdin"] == data  # the executor saw it once, whole, after End


def test_one_megabyte_of_stdin_sent_in_chunks_pypsrp(server, clients, transport):
    data = b"\x00\xffstdin" * (MB // 7)
    with WinRS(clients.wsman(server, transport), codepage=65001) as shell:
        process = Process(shell, "stdin")
        process.begin_invoke()
        for offset in range(0, len(data), 300_000):
            shell.send("stdin", data[offset:offset + 300_000], command_id=process.id,
                       end=offset + 300_000 >= len(data))
        process.end_invoke()
        process.signal(SignalCode.TERMINATE)

    assert process.rc == 0
    assert process.stdout == f"{len(data)} {hashlib.sha256(data).hexdigest()}\r\n".encode()


def test_slow_command_is_polled_through_operation_timeouts(server, clients, transport):
    result = clients.session(server, transport).run_cmd("sleep 1\necho finally")

    assert result.std_out == b"finally\r\n"
    timeouts = [r for r in server.requests if r.action == "Receive" and r.fault == 2150858793]
    # max_receive_wait is 0.1 s in these tests, so a 1 s command outlives several Receives; how many depends on
    # the machine's load (a starved client sends fewer), so only "polled at least once" is certain.
    assert len(timeouts) >= 1


def test_pypsrp_execute_cmd_and_process_arguments(server, clients, transport, executor):
    client = clients.client(server, transport)
    assert client.execute_cmd("echo via pypsrp") == ("via pypsrp\r\n", "", 0)

    with WinRS(clients.wsman(server, transport)) as shell:
        process = Process(shell, "echo", ["one", "two"])
        process.invoke()
        process.signal(SignalCode.TERMINATE)
    assert (process.stdout, process.rc) == (b"one two\r\n", 0)
    assert executor.calls[-1][2]["line"] == "echo one two"  # one rsp:Arguments element per argument


def test_command_line_too_long(server, clients, transport, executor):
    session = clients.session(server, transport)

    at_limit = session.run_cmd("echo " + "x" * (8191 - 5))
    assert at_limit.status_code == 0

    too_long = session.run_cmd("echo " + "x" * (8192 - 5))
    assert (too_long.status_code, too_long.std_out, too_long.std_err) == (1, b"", b"The command line is too long.\r\n")
    # run_ps of a 3,100-character script: -EncodedCommand inflates it by 8/3 past cmd.exe's limit.
    assert session.run_ps("echo " + "y" * 3100).std_err == b"The command line is too long.\r\n"
    assert len(executor.calls) == 1


def test_skip_cmd_shell_lifts_the_command_line_limit(server, clients):
    protocol = clients.protocol(server, "ntlm-https")
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "echo " + "z" * 9000, skip_cmd_shell=True)
    output = protocol.get_command_output(shell, command)
    stdout, rc = output[0], output[2]
    assert (len(stdout), rc) == (9002, 0)


def test_shell_outlives_the_connection_that_created_it(server, clients):
    first = clients.protocol(server, "ntlm-http")
    shell = first.open_shell()
    first.transport.close_session()  # like pywinrm's close_shell: the next request is a new connection

    second = clients.protocol(server, "ntlm-http")
    command = second.run_command(shell, "echo still here")
    assert second.get_command_output(shell, command) == (b"still here\r\n", b"", 0)


class _BrokenExecutor:
    def run_command(self, host, command, arguments, stdin):
        raise KeyError("no such VM")


def test_executor_exception_is_a_failed_command(start_server, clients):
    server = start_server(executor=_BrokenExecutor())
    result = clients.session(server, "ntlm-http").run_cmd("echo x")
    assert (result.status_code, result.std_err) == (1, b"KeyError: 'no such VM'\r\n")
