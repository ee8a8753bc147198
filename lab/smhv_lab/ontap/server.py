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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from ..faults import FaultRegistry
from ..world.storage import INVALID_VALUE, OntapError
from .request import Request, Response, error_response, expand_dotted
from .resources import build_router

LOG = logging.getLogger(__name__)
NOT_AUTHORIZED = 6
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

    def _serve(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
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
            body = expand_dotted(json.loads(raw_body)) if raw_body.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._send(error_response(OntapError(f"Invalid JSON body: {exc}", INVALID_VALUE)))
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
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.wfile.flush()


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
