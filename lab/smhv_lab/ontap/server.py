"""The HTTPS listener of one simulated ONTAP cluster.

A threading HTTP/1.1 server: each client connection gets a thread and keeps its TLS session across
requests (requests.Session keep-alive), which is what makes the simulator cheap for the clients.
TLS is wrapped in the connection's thread, so a slow handshake never blocks `accept`. Each response
goes out in one write with TCP_NODELAY, so no request waits on a delayed ACK.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import socket
import ssl
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from ..faults import FaultRegistry
from ..world.storage import INVALID_VALUE, OntapError
from . import jobs
from .request import Request, Response, error_response, expand_dotted
from .resources import build_router

LOG = logging.getLogger(__name__)
NOT_AUTHORIZED = 6
OPERATION_NOT_SUPPORTED = 3  # ONTAP's generic "The operation is not supported."
INVALID_JSON = 262199  # ONTAP's generic "Invalid JSON with error location provided in body of the error."
MAX_JSON_DEPTH = 64  # no ONTAP model nests nearly this deep
METHODS = ("GET", "POST", "PATCH", "DELETE")
KEEPALIVE_IDLE_SECONDS = 120  # an idle client connection is closed after this long


class _Listener(ThreadingHTTPServer):
    daemon_threads = True  # stop() shuts and joins connection threads itself (close_connections)

    def __init__(self, address, handler, owner: "OntapServer") -> None:
        self.owner = owner
        self.connections: dict[socket.socket, threading.Thread] = {}  # live client connections
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(KEEPALIVE_IDLE_SECONDS)
        try:
            tls = self.owner.tls_context.wrap_socket(request, server_side=True)  # detaches `request`
        except (ssl.SSLError, OSError):
            return  # a client that cannot finish the handshake is simply dropped
        with self.connections_lock:
            self.connections[tls] = threading.current_thread()
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with self.connections_lock:
                self.connections.pop(tls, None)

    def close_connections(self) -> None:
        """Shut every keep-alive connection and wait for its thread, so stop() leaves nothing behind."""
        with self.connections_lock:
            live = list(self.connections.items())
        for conn, _ in live:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in live:
            thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smhv-lab-ontap"
    sys_version = ""
    server: _Listener

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass  # the lab logs through faults/counters, not stderr per request

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_DELETE = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's errors (an unknown method, a malformed request line) as ONTAP's JSON."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # no do_<METHOD>: ONTAP answers an unsupported method with 405
            error = OntapError(f'The method "{self.command}" is not allowed. Use one of {", ".join(METHODS)}.',
                               OPERATION_NOT_SUPPORTED, status=HTTPStatus.METHOD_NOT_ALLOWED)
            self._send(error_response(error), {"Allow": ", ".join(METHODS)})
        else:
            self._send(error_response(OntapError(message or self.responses.get(code, ("Bad request",))[0],
                                                 INVALID_VALUE, status=code)))

    def _content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        value = value.strip()
        return int(value) if value.isascii() and value.isdigit() else None

    def _serve(self) -> None:
        owner = self.server.owner
        length = self._content_length()
        if length is None:  # the body's end is unknown, so the connection cannot be read any further
            self.close_connection = True
            header = self.headers.get("Content-Length")
            self._send(error_response(OntapError(f'Invalid Content-Length header "{header}".', INVALID_VALUE)))
            return
        raw_body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = "/" + "/".join(p for p in split.path.split("/") if p)
        cluster = owner.world.clusters[owner.cluster_name]
        if not self._authorized(cluster):
            self._send(error_response(OntapError("User is not authorized.", NOT_AUTHORIZED, status=401)),
                       {"WWW-Authenticate": 'Basic realm="ONTAP"'})
            return
        fault = owner.faults.hit("ontap", method=self.command, path=path, cluster=owner.cluster_name)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "http_error":
            params = fault.params
            injected = OntapError(str(params.get("message", "Injected error.")), int(params.get("code", 1)),
                                  status=int(params.get("status", 500)))
            self._send(error_response(injected))
            return
        try:
            body = parse_body(raw_body)
        except OntapError as exc:
            self._send(error_response(exc))
            return
        # parse_qsl decodes %XX and '+' alike; a repeated key keeps its last value, like the client.
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        request = Request(self.command, path, query, body, cluster,
                          job_fault=fault if fault is not None and fault.kind == "job_failure" else None)
        with owner.world.lock:
            try:
                response = owner.router.dispatch(request)
            except OntapError as exc:
                response = error_response(exc)
            except Exception as exc:  # a simulator bug: tell the client instead of dropping the connection
                LOG.exception("%s %s failed", self.command, self.path)
                response = error_response(OntapError(f"Lab simulator error: {exc!r}", 1, status=500))
        wait = jobs.wait_time(response)
        if wait > 0:  # return_timeout: answer when the job ends, as ONTAP does, without holding the world
            time.sleep(wait)
            with owner.world.lock:
                jobs.settle_all(cluster)
                jobs.finish_reply(response, self.command)
        self._send(response)

    def _authorized(self, cluster) -> bool:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == cluster.username and password == cluster.password

    def _send(self, response: Response, extra_headers: dict[str, str] | None = None) -> None:
        payload = response.encode()
        lines = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}",
                 f"Server: {self.server_version}", f"Date: {self.date_time_string()}",
                 "Content-Type: application/hal+json", f"Content-Length: {len(payload)}"]
        lines += [f"{k}: {v}" for k, v in {**response.headers, **(extra_headers or {})}.items()]
        if self.close_connection:
            lines.append("Connection: close")
        if self.command == "HEAD":  # a HEAD answer carries the headers only
            payload = b""
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.wfile.flush()


def parse_body(raw: bytes) -> dict:
    """A request body as ONTAP reads it: a JSON object (dotted keys expanded), or 400 262199 saying where
    it is not; nesting deeper than MAX_JSON_DEPTH is refused before parsing, so no depth can crash a thread."""
    if not raw.strip():
        return {}
    too_deep = _nesting_over(raw, MAX_JSON_DEPTH)
    if too_deep is not None:
        raise OntapError(f"Invalid JSON input: nested deeper than {MAX_JSON_DEPTH} levels at offset {too_deep}.",
                         INVALID_JSON)
    try:
        body = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise OntapError(f"Invalid JSON input: {exc.reason} at offset {exc.start}.", INVALID_JSON) from None
    except json.JSONDecodeError as exc:
        raise OntapError(f"Invalid JSON input at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                         INVALID_JSON) from None
    if not isinstance(body, dict):
        raise OntapError("Invalid JSON input: the body must be a JSON object.", INVALID_JSON)
    return expand_dotted(body)


def _nesting_over(raw: bytes, limit: int) -> int | None:
    """The offset where `raw` opens its (limit+1)th nested array or object, ignoring strings; or None."""
    depth, in_string, escaped = 0, False, False
    for offset, byte in enumerate(raw):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return offset
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return None


class OntapServer:
    """REST endpoint of `world.clusters[cluster_name]` on `bind`:`port` (0 picks a free port)."""

    def __init__(self, world, cluster_name: str, *, faults: FaultRegistry, tls_context: ssl.SSLContext,
                 bind: str = "127.0.0.1", port: int = 0) -> None:
        if cluster_name not in world.clusters:
            raise KeyError(f"no ONTAP cluster named {cluster_name!r} in this world")
        self.world = world
        self.cluster_name = cluster_name
        self.faults = faults
        self.tls_context = tls_context
        self.router = build_router()
        self._address = (bind, port)
        self._listener: _Listener | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the server is not started")
        return self._listener.server_address[1]

    @property
    def url(self) -> str:
        return f"https://{self._address[0]}:{self.port}"

    def start(self) -> "OntapServer":
        self._listener = _Listener(self._address, _Handler, self)
        self._thread = threading.Thread(target=self._listener.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"ontap-{self.cluster_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._listener is None:
            return
        self._listener.shutdown()
        self._listener.server_close()
        self._listener.close_connections()
        self._thread.join(timeout=5)
        self._listener = self._thread = None
