"""What the WinRS cmd shell and the PSRP shell share: the shell base class, executor threads, helpers.

Each shell guards its state with one Condition. A Receive waits on it until output is ready or the
(capped) operation timeout passes, and then answers with the OperationTimeout fault that both
clients expect and retry, exactly as Windows does for a command that is still running.
"""
from __future__ import annotations

import base64
import binascii
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from . import soap
from .executor import CommandExecutor
from .soap import Request

# Room for the envelope around the streams in a Receive reply; the rest of the client's
# MaxEnvelopeSize carries base64 output (4 characters per 3 bytes).
_REPLY_OVERHEAD = 2048
DONE = soap.SHELL_NS + "CommandState/Done"
RUNNING = soap.SHELL_NS + "CommandState/Running"


def output_budget(max_envelope_size: int) -> int:
    """Raw output bytes that fit in one reply to a client announcing `max_envelope_size`."""
    return max(1024, (max_envelope_size - _REPLY_OVERHEAD) * 3 // 4)


def new_id() -> str:
    return str(uuid.uuid4()).upper()


def client_id(value: str | None) -> str:
    """A ShellId or CommandId chosen by the client: a GUID, which both clients send upper-case."""
    try:
        return str(uuid.UUID(value or "")).upper()
    except ValueError:
        raise soap.invalid_request(f"{value!r} is not a GUID") from None


def decode_b64(text: str | None) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)
    except binascii.Error:
        raise soap.invalid_request("a stream is not valid base64") from None


def stream_xml(name: str, data: bytes, command_id: str | None = None, end: bool = False) -> str:
    command = f" CommandId={quoteattr(command_id)}" if command_id else ""
    if end:
        return f'<rsp:Stream Name="{name}"{command} End="true"></rsp:Stream>'
    return f'<rsp:Stream Name="{name}"{command}>{soap.b64(data)}</rsp:Stream>'


class Workers:
    """Threads that run executor calls, so a slow command never holds up a request thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def start(self, name: str, target: Callable[..., None], *args: Any) -> None:
        # Daemon threads: an executor that never returns must not keep the interpreter alive.
        thread = threading.Thread(target=self._run, args=(target, args), name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def join(self, timeout: float) -> list[threading.Thread]:
        """Wait for running executor calls; returns the threads still alive after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in threads if t.is_alive()]


@dataclass
class ShellContext:
    """What every shell of one server shares."""

    host_name: str
    executor: CommandExecutor
    max_receive_wait: float  # cap on how long a Receive blocks before the OperationTimeout fault
    workers: Workers = field(default_factory=Workers)
    closing: threading.Event = field(default_factory=threading.Event)

    def receive_deadline(self, request: Request) -> float:
        return time.monotonic() + max(0.0, min(request.operation_timeout, self.max_receive_wait))


class Shell:
    """Common shape of a shell; subclasses implement the actions their resource supports."""

    input_streams = "stdin"
    output_streams = "stdout stderr"

    def __init__(self, shell_id: str, resource_uri: str, context: ShellContext):
        self.id = shell_id
        self.resource_uri = resource_uri
        self.context = context
        self.cond = threading.Condition()

    def created(self, address: str) -> str:
        """Body of the Create reply. pywinrm takes the first element named ShellId (the selector);
        pypsrp reads the selector set and the optional rsp:Shell fields."""
        return (
            f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{escape(self.resource_uri)}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{self.id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{self.id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{escape(self.resource_uri)}</rsp:ResourceUri>"
            f"<rsp:InputStreams>{self.input_streams}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{self.output_streams}</rsp:OutputStreams></rsp:Shell>"
        )

    def wait(self, deadline: float) -> None:
        """Wait on `cond` (held) for a change, or raise the OperationTimeout fault past `deadline`."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.context.closing.is_set():
            raise soap.operation_timeout()
        self.cond.wait(remaining)

    def command(self, request: Request) -> str:
        raise soap.action_not_supported(request.action)

    def send(self, request: Request) -> str:
        raise soap.action_not_supported(request.action)

    def receive(self, request: Request) -> str:
        raise soap.action_not_supported(request.action)

    def signal(self, request: Request) -> str:
        raise soap.action_not_supported(request.action)

    def close(self) -> None:
        with self.cond:
            self.cond.notify_all()
