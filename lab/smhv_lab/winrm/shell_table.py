"""The process-wide shell table: Create picks the shell type by resource URI, the rest go by ShellId.

Shells live in the server, not on a connection: pywinrm closes its HTTP session after every
`close_shell`, and both clients reconnect after errors, so any request may arrive on a new connection.
"""
from __future__ import annotations

import threading

from . import soap
from .psrp import PsrpShell
from .shells import Shell, ShellContext
from .soap import Request
from .winrs import CmdShell

_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_ACTIONS = {_TRANSFER + "Create", _TRANSFER + "Delete",
            *(soap.SHELL_NS + verb for verb in ("Command", "Send", "Receive", "Signal"))}


class ShellTable:
    """All shells of one server, by ShellId, and the dispatch of shell actions to them."""

    def __init__(self, context: ShellContext):
        self.context = context
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}

    def handle(self, request: Request, address: str) -> str:
        """Run one shell action; returns the reply body or raises `soap.Fault`."""
        if request.action not in _ACTIONS:
            raise soap.action_not_supported(request.action)
        if request.verb == "Create":
            return self._create(request, address)
        shell_id = (request.shell_id or "").upper()
        with self._lock:
            shell = self._shells.get(shell_id)
            if shell is not None and request.verb == "Delete":
                del self._shells[shell_id]
        if shell is None:
            raise soap.shell_not_found(request.shell_id or "(none)")
        if request.verb == "Delete":
            shell.close()
            return ""
        handler = {"Command": shell.command, "Send": shell.send, "Receive": shell.receive, "Signal": shell.signal}
        return handler[request.verb](request)

    def _create(self, request: Request, address: str) -> str:
        if request.resource_uri.lower() == soap.CMD_RESOURCE:
            shell: CmdShell | PsrpShell = CmdShell(request, self.context)
        elif request.resource_uri.lower().startswith(soap.PSRP_RESOURCE_PREFIX):
            shell = PsrpShell(request, self.context)
        else:
            raise soap.action_not_supported(request.action)
        with self._lock:
            self._shells[shell.id] = shell
        return shell.created(address)

    def snapshot(self) -> list[Shell]:
        """The open shells (tests reach a PSRP shell's runspace through this)."""
        with self._lock:
            return list(self._shells.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._shells)

    def close(self) -> None:
        """Forget every shell and wake any Receive still waiting, so server threads can finish."""
        self.context.closing.set()
        with self._lock:
            shells, self._shells = list(self._shells.values()), {}
        for shell in shells:
            shell.close()
