"""The Hyper-V host simulator: runs the collection's PowerShell agent ops against the world model.

`AgentExecutor` is the WinRM server's executor: it recognises the agent exactly as a Windows host
would receive it (WinRS bootstrap + stdin, or a PSRP script with -Request) and answers each op from
the world, with the same result shapes as the PowerShell (agent.RESULT_SCHEMAS).
"""
from .executor import AgentExecutor

__all__ = ["AgentExecutor"]
