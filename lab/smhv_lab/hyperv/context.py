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
    # Spends a Hyper-V operation's time on this host (hyperv/timing.py); the executor's lets go of the world's
    # lock meanwhile. Without one (an op called directly) the operation takes no time.
    spend: Callable[[Any, str], None] | None = None

    def take_time(self, operation: str) -> None:
        if self.spend is not None and not self.check_mode:
            self.spend(self.host, operation)

    @property
    def computer_name(self) -> str:
        return self.host.name.upper()  # $env:COMPUTERNAME is upper case


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
