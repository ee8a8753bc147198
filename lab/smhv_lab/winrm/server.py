"""A WinRM endpoint for one simulated Windows host: HTTP (5985-style) and HTTPS (5986-style) listeners.

Per request: read the whole body (even for a 401, so keep-alive survives), authenticate the connection,
unseal the body if it is MS-WSMV encrypted, parse the SOAP, let the fault registry interfere, run the
shell action, and answer sealed the same way the request came. Where Windows and the clients' source
disagree with intuition (status codes, header shapes, what gets sealed), the comments say which client
behaviour the choice follows.
"""
from __future__ import annotations

import collections
import contextlib
import http.server
import logging
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..faults import FaultRegistry, FaultRule
from . import encryption, soap, windows
from .auth import Authenticator, ConnectionAuth, LocalUser, tls_channel_binding
from .executor import CommandExecutor
from .shell_table import ShellTable
from .shells import ShellContext
from .soap import Fault, Request

log = logging.getLogger(__name__)

_SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_TLS_HANDSHAKE_TIMEOUT = 10.0
_REQUEST_LOG_SIZE = 1000


@dataclass(frozen=True)
class RequestRecord:
    """One SOAP request as the server understood it, for test assertions."""

    action: str  # short name: Create, Command, Send, Receive, Signal, Delete...
    resource_uri: str
    shell_id: str | None
    command_id: str | None
    options: dict[str, str]  # option names upper-cased
    listener: str  # "http" or "https"
    auth_scheme: str | None  # Basic, Negotiate or NTLM
    encrypted: bool  # the body was MS-WSMV sealed
    command_line: str | None = None  # Command on a cmd shell: the line cmd.exe would see
    script: str | None = None  # ... and the decoded -EncodedCommand script, if any
    stdin_size: int = 0  # Send: raw bytes received
    status: int = 200
    fault: int | None = None  # WSManFault code answered, if any
    injected: str | None = None  # kind of the FaultRegistry rule that fired, if any
    reply_size: int = 0  # bytes of the SOAP reply before sealing (bounded by the client's MaxEnvelopeSize)


def _command_id(request: Request) -> str | None:
    element = request.body.find(".//*[@CommandId]")
    return element.get("CommandId") if element is not None else None


def _injected_fault(rule: FaultRule) -> Fault:
    if rule.kind == "timeout":
        return soap.operation_timeout()

    def number(value: Any) -> int:  # rules written in YAML or JSON may spell codes in hex: "0x803381A6"
        return int(value, 0) if isinstance(value, str) else int(value)

    params = rule.params
    wmi_error_code = params.get("wmi_error_code")
    return Fault(number(params.get("code", soap.ACCESS_DENIED)), str(params.get("message", "Access is denied.")),
                 subcode=params.get("subcode"),
                 wmi_error_code=number(wmi_error_code) if wmi_error_code is not None else None)


def _describe(request: Request) -> dict[str, Any]:
    """Request-log details of the actions that carry a command line or input."""
    if request.verb == "Command" and request.resource_uri.lower() == soap.CMD_RESOURCE:
        line = request.find("rsp:CommandLine")
        if line is not None:
            text = windows.command_line((line.findtext("rsp:Command", "", soap.NS) or "").strip(),
                                        [a.text or "" for a in line.findall("rsp:Arguments", soap.NS)])
            return {"command_line": text, "script": windows.encoded_script(text)}
    if request.verb == "Send":
        texts = [s.text or "" for s in request.findall("rsp:Send/rsp:Stream")]
        return {"stdin_size": sum(len(t.strip()) * 3 // 4 - t.strip().count("=") for t in texts)}
    return {}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: NTLM authenticates the connection, not the request
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux) on every single request.
    disable_nagle_algorithm = True
    server: _Listener

    def version_string(self) -> str:
        return "Microsoft-HTTPAPI/2.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        self.auth = ConnectionAuth()
        tls = self.server.tls_context
        if tls is not None:
            # Handshake here, on the connection's thread, so a slow client never stalls accept().
            self.request = tls.wrap_socket(self.request, server_side=True, do_handshake_on_connect=False)
        self.server.track(self.request)
        try:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(_TLS_HANDSHAKE_TIMEOUT)
                self.request.do_handshake()
                self.request.settimeout(None)
            super().setup()
        except BaseException:
            self._release()
            raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._release()

    def _release(self) -> None:
        self.server.untrack(self.request)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.close()  # socketserver closes only the raw socket, which wrap_socket detached

    def do_GET(self) -> None:
        self.respond(405, b"")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if not length or not length.isdigit():
            self.close_connection = True
            self.respond(411, b"")
            return
        body = self.rfile.read(int(length))
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            self.respond(404, b"")
            return
        if not self.server.winrm.powered_on():
            self.close_connection = True  # a host that is restarting answers nothing
            return
        result = self.server.authenticator.authenticate(self.auth, self.headers.get("Authorization"))
        auth_headers = [("WWW-Authenticate", value) for value in result.www_authenticate]
        if not result.ok:
            self.respond(401, b"", auth_headers)
            return
        if not body:
            self.respond(200, b"", auth_headers)  # the empty POST that sets up encryption
            return
        self.server.winrm.handle(self, body, auth_headers)

    def reply(self, status: int, soap_body: bytes, encrypt: bool, headers: Sequence[tuple[str, str]] = ()) -> None:
        """Answer a SOAP request, sealed with the connection's context if the request was sealed."""
        if encrypt and soap_body:
            self.respond(status, encryption.wrap(self.auth.context, soap_body), [*headers, ("Content-Type",
                                                                                       encryption.CONTENT_TYPE)])
        else:
            content_type = [("Content-Type", _SOAP_CONTENT_TYPE)] if soap_body else []
            self.respond(status, soap_body, [*headers, *content_type])

    def respond(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without a reply, as a crashed or unreachable host would."""
        self.close_connection = True


class _Listener(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """One listening socket. Knows its open connections so stop() can close idle keep-alive ones."""

    daemon_threads = False
    block_on_close = True  # server_close() joins every connection thread
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], winrm: WinRMServer, authenticator: Authenticator,
                 tls_context: ssl.SSLContext | None):
        self.winrm = winrm
        self.authenticator = authenticator
        self.tls_context = tls_context
        self.scheme = "https" if tls_context else "http"
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def serve(self) -> None:
        """Accept connections until stop_accepting(); each one gets its own thread (ThreadingMixIn).

        A blocking accept instead of serve_forever's polling, so stopping costs no poll interval.
        """
        while True:
            try:
                request, client_address = self.socket.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                log.warning("accept failed on %s", self.server_address, exc_info=True)
                continue
            if self._stopping.is_set():
                request.close()
                return
            self.process_request(request, client_address)

    def stop_accepting(self) -> None:
        self._stopping.set()
        # Wake the blocked accept() with a connection of our own: portable, unlike closing the socket.
        with contextlib.suppress(OSError), socket.create_connection(self.server_address[:2], timeout=1):
            pass

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def disconnect_all(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # The plain socket method: it wakes a thread blocked in recv without touching TLS state.
            try:
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients vanishing (resets, failed TLS handshakes, stop()) are normal; anything else is a bug.
        if isinstance(sys.exception(), OSError):
            log.debug("connection from %s ended: %s", client_address, sys.exception())
        else:
            log.exception("connection from %s failed", client_address)


class WinRMServer:
    """WinRM endpoint of one simulated host, for unmodified pywinrm and pypsrp clients.

    Basic is accepted on HTTPS, and on HTTP only with `allow_unencrypted`. Negotiate (NTLM) is accepted
    everywhere: on HTTP the clients then seal every message, on HTTPS they bind the TLS channel, which
    `require_cbt` enforces. `max_envelope_kb` is the server's MaxEnvelopeSizekb: requests larger than
    that get the EncodingLimit fault. A blocked Receive answers the OperationTimeout fault after the
    client's OperationTimeout or `max_receive_wait` seconds, whichever is shorter, so simulated slow
    commands cost clients retries rather than wall-clock time.
    """

    def __init__(self, host_name: str, *, username: str, password: str, executor: CommandExecutor,
                 faults: FaultRegistry, tls_context: ssl.SSLContext | None, bind: str = "127.0.0.1",
                 http_port: int = 0, https_port: int = 0, max_envelope_kb: int = 500, require_cbt: bool = True,
                 allow_unencrypted: bool = False, max_receive_wait: float = 1.0,
                 power: Callable[[], tuple[bool, int]] | None = None):
        self.host_name = host_name
        # power() -> (up, boot count): a host that is down drops every connection; a new boot count
        # (the host restarted) ends every shell, as a reboot ends every remote session.
        self.power = power
        self._boots: int | None = None
        self.user = LocalUser(host_name, username, password)
        self.faults = faults
        self.tls_context = tls_context
        self.bind = bind
        self.max_envelope_size = max_envelope_kb * 1024
        self.require_cbt = require_cbt
        self.allow_unencrypted = allow_unencrypted
        self.executor = executor
        self.max_receive_wait = max_receive_wait
        self.shells = ShellTable(ShellContext(host_name, executor, max_receive_wait))
        self.http_port: int | None = http_port or None
        self.https_port: int | None = https_port or None
        self._ports = (http_port, https_port)
        self._listeners: list[_Listener] = []
        self._threads: list[threading.Thread] = []
        self._state_dir: tempfile.TemporaryDirectory[str] | None = None
        self._log: collections.deque[RequestRecord] = collections.deque(maxlen=_REQUEST_LOG_SIZE)
        self._log_lock = threading.Lock()

    @property
    def requests(self) -> list[RequestRecord]:
        """The last 1000 SOAP requests, oldest first."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def url(self, scheme: str = "https") -> str:
        port = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://{self.bind}:{port}/wsman"

    def start(self) -> None:
        """Open both listeners on `bind`; returns once they accept connections."""
        if self._listeners:
            raise RuntimeError("WinRMServer already started")
        self.shells = ShellTable(ShellContext(self.host_name, self.executor, self.max_receive_wait))
        self._state_dir = tempfile.TemporaryDirectory(prefix=f"winrm-{self.host_name}-")
        user_file = self.user.write_ntlm_user_file(Path(self._state_dir.name) / "ntlm_users")
        try:
            self._listen(Authenticator(self.user, user_file, basic=self.allow_unencrypted, channel_binding=None),
                         self._ports[0], None)
            if self.tls_context is not None:
                binding = tls_channel_binding(self.tls_context) if self.require_cbt else None
                self._listen(Authenticator(self.user, user_file, basic=True, channel_binding=binding),
                             self._ports[1], self.tls_context)
        except BaseException:
            self.stop()
            raise
        self.http_port = self._listeners[0].port
        self.https_port = self._listeners[1].port if self.tls_context is not None else None

    def _listen(self, authenticator: Authenticator, port: int, tls_context: ssl.SSLContext | None) -> None:
        listener = _Listener((self.bind, port), self, authenticator, tls_context)
        self._listeners.append(listener)
        thread = threading.Thread(target=listener.serve, name=f"winrm-{self.host_name}-{listener.scheme}",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Close the listeners and every connection, wake blocked Receives, and join all threads."""
        for listener in self._listeners:
            listener.stop_accepting()
        for thread in self._threads:
            thread.join()
        for listener in self._listeners:
            listener.disconnect_all()
        self.shells.close()
        for listener in self._listeners:
            listener.server_close()
        stuck = self.shells.context.workers.join(timeout=5.0)
        if stuck:
            log.warning("%s: %d executor call(s) still running after stop", self.host_name, len(stuck))
        self._listeners, self._threads = [], []
        if self._state_dir is not None:
            self._state_dir.cleanup()
            self._state_dir = None

    def __enter__(self) -> WinRMServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def powered_on(self) -> bool:
        if self.power is None:
            return True
        up, boots = self.power()
        if self._boots is not None and boots != self._boots:
            old, self.shells = self.shells, ShellTable(ShellContext(self.host_name, self.executor, self.max_receive_wait))
            old.close()
        self._boots = boots
        return up

    # -- one SOAP request -------------------------------------------------------------------------

    def handle(self, handler: _Handler, body: bytes, auth_headers: list[tuple[str, str]]) -> None:
        listener = handler.server.scheme
        encrypted = encryption.is_encrypted(handler.headers.get("Content-Type", ""))
        body = self._unseal(handler, body) if encrypted else body
        if body is None or (not encrypted and listener == "http" and not self.allow_unencrypted):
            # No SOAP fault here: there is no trustworthy request to answer, and Windows just says 400.
            handler.reply(400, b"", False)
            return
        try:
            request = soap.parse_request(body)
        except Fault as fault:
            handler.reply(500, soap.fault_response(fault, None, self.host_name), encrypted, auth_headers)
            return
        record = dict(action=request.verb, resource_uri=request.resource_uri, shell_id=request.shell_id,
                      command_id=_command_id(request), options=dict(request.options), listener=listener,
                      auth_scheme=handler.auth.scheme, encrypted=encrypted, **_describe(request))

        rule = self.faults.hit("winrm", action=request.verb, resource=request.resource_uri, shell_id=request.shell_id,
                               command_id=record["command_id"], host=self.host_name)
        record["injected"] = rule.kind if rule else None
        if rule is not None and rule.kind == "drop":
            self._record(record, status=0)
            handler.drop()
            return
        if rule is not None and rule.kind == "http_error":
            status, text = int(rule.params.get("status", 500)), str(rule.params.get("body", "")).encode()
            self._record(record, status=status)
            handler.respond(status, text, [*auth_headers, *([("Content-Type", "text/plain")] if text else [])])
            return

        status, fault = 200, None
        try:
            if rule is not None and rule.kind in ("timeout", "wsman_fault"):
                raise _injected_fault(rule)
            if len(body) > self.max_envelope_size:
                raise soap.encoding_limit(len(body), self.max_envelope_size)
            address = f"{listener}://{self.host_name}:{handler.server.port}/wsman"
            reply = soap.response(request, self.shells.handle(request, address))
        except Fault as exc:
            status, fault = 500, exc.code
            reply = soap.fault_response(exc, request.message_id, self.host_name)
        except Exception as exc:  # a simulator bug: show it to the client as a fault, not a dropped connection
            log.exception("%s: %s failed", self.host_name, request.verb)
            status, fault = 500, soap.E_FAIL
            reply = soap.fault_response(Fault(soap.E_FAIL, f"Simulator error: {type(exc).__name__}: {exc}"),
                                        request.message_id, self.host_name)
        self._record(record, status=status, fault=fault, reply_size=len(reply))
        handler.reply(status, reply, encrypted, auth_headers)

    def _unseal(self, handler: _Handler, body: bytes) -> bytes | None:
        if not handler.auth.authenticated:
            return None
        try:
            return encryption.unwrap(handler.auth.context, body)
        except encryption.EncryptionError as exc:
            # Typically a body sealed with the keys of a dropped connection and re-sent after the client
            # authenticated a new one; Ansible's winrm plugin expects (and ignores) the 400 in cleanup.
            log.debug("%s: cannot unseal request: %s", self.host_name, exc)
            return None

    def _record(self, record: dict[str, Any], **outcome: Any) -> None:
        with self._log_lock:
            self._log.append(RequestRecord(**record, **outcome))
