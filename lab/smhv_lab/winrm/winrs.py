"""The WinRS cmd shell (resource .../windows/shell/cmd): Command, Send, Receive, Signal.

A command runs through the executor once its input is complete: at Send End=true, or at the first
Receive if the client never sent stdin. Its output then goes back in chunks that fit the client's
MaxEnvelopeSize, Running until the last one, which carries the End streams, Done and the ExitCode.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from . import soap, windows
from .executor import CommandResult
from .shells import DONE, RUNNING, Shell, ShellContext, client_id, decode_b64, new_id, output_budget, stream_xml
from .soap import Request

log = logging.getLogger(__name__)


@dataclass
class _Command:
    id: str
    command: str
    arguments: list[str]
    stdin: bytearray = field(default_factory=bytearray)
    stdin_sent: bool = False
    started: bool = False
    result: CommandResult | None = None
    stdout_sent: int = 0
    stderr_sent: int = 0


class CmdShell(Shell):
    """A WinRS cmd shell: commands run through the executor, output streamed back in chunks."""

    def __init__(self, request: Request, context: ShellContext):
        super().__init__(new_id(), request.resource_uri, context)
        self._commands: dict[str, _Command] = {}

    def command(self, request: Request) -> str:
        line = request.find("rsp:CommandLine")
        if line is None:
            raise soap.invalid_request("rsp:CommandLine is missing")
        command = _Command(
            id=client_id(line.get("CommandId")) if line.get("CommandId") else new_id(),
            command=(line.findtext("rsp:Command", "", soap.NS) or "").strip(),
            arguments=[a.text or "" for a in line.findall("rsp:Arguments", soap.NS)],
        )
        # cmd.exe refuses the line before anything runs, unless the client skipped cmd.exe.
        full_line = windows.command_line(command.command, command.arguments)
        if len(full_line) > windows.MAX_COMMAND_LINE and not soap.is_true(request.option("WINRS_SKIP_CMD_SHELL")):
            command.started, command.result = True, windows.command_line_too_long()
        with self.cond:
            self._commands[command.id] = command
        return f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"

    def send(self, request: Request) -> str:
        for stream in request.findall("rsp:Send/rsp:Stream"):
            data = decode_b64(stream.text)
            with self.cond:
                command = self._command(stream.get("CommandId"))
                if stream.get("Name", "stdin") != "stdin" or command.started:
                    continue  # input after End=true, or for another stream, has no reader
                command.stdin += data
                command.stdin_sent = True
                # stdin is buffered until End=true: the executor gets it whole, like a process reading to EOF.
                if soap.is_true(stream.get("End")):
                    self._start(command)
        return "<rsp:SendResponse/>"

    def receive(self, request: Request) -> str:
        desired = request.find("rsp:Receive/rsp:DesiredStream")
        if desired is None:
            raise soap.invalid_request("rsp:DesiredStream is missing")
        deadline = self.context.receive_deadline(request)
        with self.cond:
            command = self._command(desired.get("CommandId"))
            if not command.started and not command.stdin_sent:
                self._start(command)  # a command nobody feeds runs at the first Receive
            while command.result is None:
                self.wait(deadline)
                command = self._command(command.id)  # raises if a Signal removed it meanwhile
            return self._output(command, output_budget(request.max_envelope_size))

    def signal(self, request: Request) -> str:
        signal = request.find("rsp:Signal")
        if signal is None:
            raise soap.invalid_request("rsp:Signal is missing")
        with self.cond:
            # terminate, ctrl_c and ctrl_break all end the command here: the executor call cannot be
            # interrupted, so its result is simply dropped when it arrives.
            del self._commands[self._command(signal.get("CommandId")).id]
            self.cond.notify_all()
        return "<rsp:SignalResponse/>"

    def _command(self, command_id: str | None) -> _Command:
        command = self._commands.get((command_id or "").upper())
        if command is None:
            raise soap.command_not_found(command_id or "(none)")
        return command

    def _start(self, command: _Command) -> None:
        command.started = True
        self.context.workers.start(f"winrs-{command.id[:8]}", self._run, command)

    def _run(self, command: _Command) -> None:
        try:
            result = self.context.executor.run_command(self.context.host_name, command.command, command.arguments,
                                                       bytes(command.stdin))
        except Exception as exc:  # an executor bug becomes a failed command the client can see
            log.exception("executor failed on %r", command.command)
            result = CommandResult(stderr=f"{type(exc).__name__}: {exc}\r\n".encode(), rc=1)
        with self.cond:
            command.result = result
            self.cond.notify_all()

    @staticmethod
    def _output(command: _Command, budget: int) -> str:
        assert command.result is not None
        stdout = command.result.stdout[command.stdout_sent:command.stdout_sent + budget]
        stderr = command.result.stderr[command.stderr_sent:command.stderr_sent + budget - len(stdout)]
        command.stdout_sent += len(stdout)
        command.stderr_sent += len(stderr)
        parts = [stream_xml(name, data, command.id) for name, data in (("stdout", stdout), ("stderr", stderr)) if data]
        done = (command.stdout_sent, command.stderr_sent) == (len(command.result.stdout), len(command.result.stderr))
        if done:
            # Done must carry ExitCode: pywinrm reads it without a default.
            parts += [stream_xml("stdout", b"", command.id, end=True), stream_xml("stderr", b"", command.id, end=True),
                      f'<rsp:CommandState CommandId="{command.id}" State="{DONE}">'
                      f"<rsp:ExitCode>{command.result.rc}</rsp:ExitCode></rsp:CommandState>"]
        else:
            parts.append(f'<rsp:CommandState CommandId="{command.id}" State="{RUNNING}"/>')
        return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"
