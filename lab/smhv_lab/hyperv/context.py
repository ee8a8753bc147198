"""What every op gets (the world, the host, check mode, warnings) and the agent's argument rules.

The argument checks and their messages mirror Get-SmhvArgument in the PowerShell agent, so a bad
request gets the same BAD_REQUEST answer from the lab as from a Windows host.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

_MISSING = object()
_EXPECTED = {"String": "a string", "Boolean": "true or false", "StringList": "a list of strings",
             "IntegerList": "a list of integers"}
_ABSOLUTE = re.compile(r"^([A-Za-z]:\\|\\\\[^\\])")


class AgentFailure(Exception):
    """An answer {"ok": false, "error": {code, message, details}}, as New-SmhvError makes them."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, dict(details or {})


@dataclass
class OpContext:
    world: Any
    host: Any  # world.windows.WindowsHost
    agent: ModuleType  # the collection's agent package (contract and generated script): constants shared with the PowerShell
    check_mode: bool = False
    warnings: list[str] = field(default_factory=list)
    # Runs the agent's side-by-side Hyper-V jobs (agent/checkpoint_jobs.ps1) on this host: the executor's spends
    # each job's time in parallel (AgentExecutor._run_jobs). Without one, one job after another, taking no time.
    jobs: Callable[..., list[tuple[Any, BaseException | None]]] | None = None

    def run_jobs(self, operation: str, items: list[Any], land: Callable[[Any], Any],
                 group: Callable[[Any], Any] | None = None) -> list[tuple[Any, BaseException | None]]:
        """One Hyper-V job per item (`operation`'s time, then `land(item)`, the change, under the world's lock), at
        most the agent's CHECKPOINT_JOBS at once and one at a time per `group(item)`; (result, None) or (None, the
        exception land raised) per item, in the items' order."""
        if self.jobs is not None and not self.check_mode:
            return self.jobs(self.host, operation, items, land, group)
        return one_after_another(items, land)

    @property
    def computer_name(self) -> str:
        return self.host.name.upper()  # $env:COMPUTERNAME is upper case


def one_after_another(items: list[Any], land: Callable[[Any], Any]) -> list[tuple[Any, BaseException | None]]:
    """OpContext.run_jobs's outcomes when the jobs take no time."""
    outcomes: list[tuple[Any, BaseException | None]] = []
    for item in items:
        try:
            outcomes.append((land(item), None))
        except Exception as error:  # the op decides which errors are the VM's own
            outcomes.append((None, error))
    return outcomes


def _valid(kind: str, value: Any) -> bool:
    if kind == "String":
        return isinstance(value, str)
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind == "StringList":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def argument(args: dict[str, Any], name: str, kind: str, default: Any = None, required: bool = False) -> Any:
    value = args.get(name)
    if value is None:
        if required:
            raise AgentFailure("BAD_REQUEST", f"Argument '{name}' is required.", {"argument": name})
        return list(default or []) if kind.endswith("List") else default
    if not _valid(kind, value):
        raise AgentFailure("BAD_REQUEST", f"Argument '{name}' must be {_EXPECTED[kind]}.", {"argument": name})
    return list(value) if kind.endswith("List") else value


def assert_absolute(path: str, name: str) -> None:
    if not _ABSOLUTE.match(path):
        raise AgentFailure("BAD_REQUEST", f"Argument '{name}': '{path}' is not an absolute Windows path.",
                           {"argument": name, "path": path})


def encoding_argument(args: dict[str, Any]) -> str:
    encoding = argument(args, "encoding", "String", "utf-8")
    if encoding not in ("utf-8", "base64"):
        raise AgentFailure("BAD_REQUEST", "Argument 'encoding' must be 'utf-8' or 'base64'.", {"argument": "encoding"})
    return encoding
