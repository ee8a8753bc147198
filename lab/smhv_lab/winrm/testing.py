"""`EchoExecutor`: a tiny stand-in for a Windows host, for transport tests.

It understands one statement per line, the same way over WinRS (the command line, or the script
behind powershell -EncodedCommand) and over PSRP (an add_script text, or the script given to
Invoke-Expression by pypsrp's execute_ps):

    echo TEXT | Write-Output TEXT   one output line
    output N                        one output line of N characters
    stdin                           "<length> <sha256>" of the command's stdin
    Write-Error TEXT                an error (CLIXML on stderr under PowerShell, an ErrorRecord over PSRP)
    progress                        a CLIXML progress record on stderr (rc stays 0)
    sleep SECONDS                   block, like a slow Hyper-V operation
    exit N                          stop with exit code N
    throw TEXT                      PSRP: fail the pipeline with TEXT as the reason
    $params                         PSRP: one dict of the named parameters
    $input                          PSRP: the pipeline input objects, one by one

An unknown statement gets Windows' own "not recognized" answer.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import windows
from .executor import CommandResult, PipelineCommand, PipelineResult

_PS_NOT_RECOGNIZED = ("The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable "
                      "program. Check the spelling of the name, or if a path was included, verify that the path is "
                      "correct and try again.")


@dataclass
class _Run:
    output: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    progress: bool = False
    rc: int | None = None
    failed: str | None = None
    unknown: str | None = None


def _interpret(script: str, *, stdin: bytes = b"", params: dict[str, Any] | None = None,
               input_objects: list[Any] | None = None, cmd: bool = False) -> _Run:
    run = _Run()
    for statement in (line.strip() for line in script.splitlines()):
        verb, _, rest = statement.partition(" ")
        verb = verb.lower()
        if not statement:
            continue
        elif verb in ("echo", "write-output"):
            run.output.append(rest)
        elif verb == "output":
            run.output.append(("0123456789abcdef" * (int(rest) // 16 + 1))[:int(rest)])
        elif verb == "stdin":
            run.output.append(f"{len(stdin)} {hashlib.sha256(stdin).hexdigest()}")
        elif verb == "write-error":
            run.errors.append(rest)
        elif verb == "progress":
            run.progress = True
        elif verb == "sleep":
            time.sleep(float(rest))
        elif verb == "exit":
            run.rc = int(rest)
            break
        elif verb == "throw":
            run.failed = rest or "ScriptHalted"
            break
        elif verb == "$params":
            run.output.append({name: value for name, value in (params or {}).items()})
        elif verb == "$input":
            run.output.extend(input_objects or [])
        else:
            run.unknown = statement.split()[0]
            if cmd:
                break  # cmd.exe runs one line; an unknown program ends it
            run.errors.append(_PS_NOT_RECOGNIZED.format(run.unknown))
    return run


class EchoExecutor:
    """`CommandExecutor` for transport tests; `calls` records every invocation as (host, kind, details)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()

    def _called(self, host: str, kind: str, details: Any) -> None:
        with self._lock:
            self.calls.append((host, kind, details))

    def run_command(self, host: str, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        line = windows.command_line(command, arguments)
        script = windows.encoded_script(line)
        self._called(host, "command", {"line": line, "script": script, "stdin": stdin})
        if script is None:
            run = _interpret(line, stdin=stdin, cmd=True)
            if run.unknown:
                return windows.not_recognized(line)
            stderr = "".join(f"{e}\r\n" for e in run.errors).encode()
        else:
            run = _interpret(script, stdin=stdin)
            stderr = windows.clixml_error("\n".join(run.errors)) if run.errors else b""
            stderr += windows.clixml_progress() if run.progress else b""
        stdout = "".join(f"{item}\r\n" for item in run.output).encode()
        rc = run.rc if run.rc is not None else (1 if run.errors else 0)
        return CommandResult(stdout=stdout, stderr=stderr, rc=rc)

    def run_pipeline(self, host: str, commands: list[PipelineCommand], input_objects: list[Any],
                     runspace: Any = None) -> PipelineResult:
        self._called(host, "pipeline", {"commands": commands, "input": input_objects})
        first = commands[0]
        params = {name: value for name, value in first.parameters if name is not None}
        # pypsrp's execute_ps sends `Invoke-Expression -Command <script> | Out-String -Stream`.
        script = str(params.get("Command", "")) if first.text.lower() == "invoke-expression" else first.text
        run = _interpret(script, params=params, input_objects=input_objects)
        return PipelineResult(output=run.output, errors=run.errors, failed=run.failed is not None,
                              reason=run.failed or "")
