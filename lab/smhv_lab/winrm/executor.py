"""What the WinRM transport asks of whoever plays the Windows host.

The server only speaks WS-Management; running a command is delegated to a `CommandExecutor`.
Both methods may block (simulated latency, slow Hyper-V operations): the server calls them on a
worker thread and keeps answering the client's Receive polls with OperationTimeout faults meanwhile.
An exception raised by an executor becomes a failed command (WinRS: the message on stderr and rc 1;
PSRP: a Failed pipeline), so a bug in a simulator shows up in the client instead of hanging it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one WinRS command: raw bytes as the process wrote them, in the shell's codepage."""

    stdout: bytes = b""
    stderr: bytes = b""
    rc: int = 0


@dataclass(frozen=True)
class PipelineCommand:
    """One command of a PSRP pipeline, as the client built it.

    `PowerShell.add_script(s)` arrives as `text=s, is_script=True`; `add_cmdlet("Get-Item")` as
    `is_script=False`. `parameters` keeps the client's order; a positional argument has name None and a
    switch has the value True. Values are psrpcore's deserialised objects (str/int subclasses, dicts...).
    """

    text: str
    is_script: bool
    parameters: list[tuple[str | None, Any]] = field(default_factory=list)
    # The client's UseLocalScope: None when it sent none. PowerShell runs a script command in a new scope only
    # when it is True (Command.CreateCommandProcessor: `_useLocalScope ?? false`); otherwise dot-sourced, in the
    # runspace's global scope, where the functions it defines stay for the pool's later pipelines.
    use_local_scope: bool | None = None


@dataclass
class Runspace:
    """The runspace of one PSRP RunspacePool (pypsrp opens pools of one), as later pipelines find it.

    `functions` maps the lower-case name of each function an earlier pipeline defined in the global scope to
    what the executor knows of its body (the agent's hash). A new pool starts empty, as a new runspace does.
    """

    functions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineResult:
    """Outcome of one PSRP pipeline.

    `output` objects are serialised by psrpcore (str, int, bool, float, None, list and dict work).
    `errors` become ErrorRecords on the error stream; like PowerShell, they do not fail the pipeline.
    `failed=True` ends the pipeline in the Failed state with `reason` as its terminating error, which
    is what makes pypsrp report `had_errors`; `error_id` (FullyQualifiedErrorId, also the category's
    reason), `category` (an ErrorCategory name) and `target` describe that error record.
    """

    output: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: bool = False
    reason: str = ""
    error_id: str = "RuntimeException"
    category: str = "NotSpecified"
    target: str | None = None


class CommandExecutor(Protocol):
    def run_command(self, host: str, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        """Run a WinRS command.

        `command` and `arguments` are exactly what the client put in rsp:Command and rsp:Arguments
        (pywinrm joins all arguments into one element, pypsrp sends one per argument); use
        `windows.command_line()` for the line cmd.exe would see and `windows.encoded_script()` to decode
        `-EncodedCommand`. `stdin` is everything the client sent before End=true.
        """
        ...

    def run_pipeline(self, host: str, commands: list[PipelineCommand], input_objects: list[Any],
                     runspace: Runspace | None = None) -> PipelineResult:
        """Run a PSRP pipeline; `input_objects` is the pipeline input (empty when the client sent none).

        `runspace` is the pool's runspace, which the pipeline may read and change (None: a fresh one)."""
        ...
