"""WinRM transport of a simulated Hyper-V host: real HTTP(S), authentication, encryption, WinRS and PSRP.

`WinRMServer` speaks WS-Management to unmodified pywinrm and pypsrp clients and hands every command
to a `CommandExecutor`, which decides what the "Windows host" answers.
"""
from .executor import CommandExecutor, CommandResult, PipelineCommand, PipelineResult
from .server import RequestRecord, WinRMServer

__all__ = ["CommandExecutor", "CommandResult", "PipelineCommand", "PipelineResult", "RequestRecord", "WinRMServer"]
