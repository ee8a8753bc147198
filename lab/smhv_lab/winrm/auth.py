"""HTTP authentication of a WinRM listener: Basic, and Negotiate carrying NTLM raw or SPNEGO-wrapped.

One `Authenticator` per listener decides; the state it updates (`ConnectionAuth`) lives on the TCP
connection, because NTLM authenticates the connection rather than each request. Both clients send a
Negotiate header whatever they wrap in it: requests-ntlm and pypsrp `auth="ntlm"` send raw NTLMSSP,
pypsrp's default `auth="negotiate"` sends SPNEGO. pyspnego's pure-Python Negotiate acceptor takes both.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import logging
import os
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from spnego import ContextProxy
from spnego.channel_bindings import GssChannelBindings

log = logging.getLogger(__name__)

_NTLM_USER_FILE = "NTLM_USER_FILE"
_NTLM_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _ntlm_users(path: Path) -> Iterator[None]:
    """Point pyspnego's NTLM acceptor at `path` for the duration of one handshake step.

    The acceptor has no credential argument: it reads the user list from the file named by the
    NTLM_USER_FILE environment variable, when the context is created and again when it checks the
    AUTHENTICATE message. Servers in one process may have different users, so each server has its own
    file and the variable names it only while that server's step runs (a step takes milliseconds).
    """
    with _NTLM_ENV_LOCK:
        previous = os.environ.get(_NTLM_USER_FILE)
        os.environ[_NTLM_USER_FILE] = str(path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(_NTLM_USER_FILE, None)
            else:
                os.environ[_NTLM_USER_FILE] = previous


def tls_channel_binding(context: ssl.SSLContext) -> bytes:
    """RFC 5929 tls-server-end-point application data for the certificate `context` serves.

    Python cannot ask a server context for its own certificate, so run one TLS handshake against it in
    memory and read the certificate the way a client sees it.
    """
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(client_in, client_out)
    server = context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(8):  # TLS 1.2 needs two round trips, 1.3 one
        with contextlib.suppress(ssl.SSLWantReadError):
            client.do_handshake()
            break
        with contextlib.suppress(ssl.SSLWantReadError):
            server.do_handshake()
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    else:
        raise RuntimeError("in-memory TLS handshake with the listener's context did not complete")
    certificate = client.getpeercert(binary_form=True)
    # RFC 5929 4.1: hash with the certificate's signature hash, except MD5/SHA-1 which become SHA-256.
    algorithm = x509.load_der_x509_certificate(certificate).signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate)
    return b"tls-server-end-point:" + digest.finalize()


@dataclass(frozen=True)
class LocalUser:
    """The one local account of a simulated host. Windows matches account names case-insensitively."""

    host_name: str
    username: str
    password: str

    def _domains_and_name(self) -> tuple[set[str], str]:
        domain, _, name = self.username.rpartition("\\")
        # A bare account name is also reachable as HOST\name and .\name, as on Windows.
        return ({domain} if domain else {"", self.host_name, "."}), name

    def matches(self, login: str) -> bool:
        domains, name = self._domains_and_name()
        domain, _, user = login.rpartition("\\")
        if "@" in user and not domain:
            user, _, domain = user.partition("@")
        return user.lower() == name.lower() and domain.lower() in {d.lower() for d in domains}

    def check_basic(self, token: str) -> bool:
        try:
            login, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.matches(login) and hmac.compare_digest(password.encode(), self.password.encode())

    def write_ntlm_user_file(self, path: Path) -> Path:
        """pyspnego's `DOMAIN:user:password` lines; the domain must match what the client sends."""
        domains, name = self._domains_and_name()
        lines = [f"{domain}:{name}:{self.password}" for domain in sorted(domains)]
        lines.append(f":{name}@{self.host_name}:{self.password}")  # UPN logins arrive with no domain
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path


@dataclass
class ConnectionAuth:
    """Authentication state of one TCP connection."""

    scheme: str | None = None  # scheme of the last accepted Authorization header
    context: ContextProxy | None = None  # Negotiate context, also used to seal messages
    authenticated: bool = False  # set by a completed Negotiate handshake; Basic is checked per request


@dataclass
class AuthResult:
    ok: bool
    www_authenticate: list[str] = field(default_factory=list)  # header values to send


class Authenticator:
    """Checks the Authorization header of each request arriving on one listener."""

    def __init__(self, user: LocalUser, ntlm_user_file: Path, *, basic: bool, channel_binding: bytes | None):
        self.user = user
        self._user_file = ntlm_user_file
        self._basic = basic
        self._bindings = GssChannelBindings(application_data=channel_binding) if channel_binding else None

    def challenge(self) -> AuthResult:
        # Windows advertises Negotiate; Basic only where it would accept it (never plain HTTP by default).
        offers = ["Negotiate"] + (['Basic realm="WSMAN"'] if self._basic else [])
        return AuthResult(False, offers)

    def authenticate(self, state: ConnectionAuth, authorization: str | None) -> AuthResult:
        if not authorization:
            return AuthResult(True) if state.authenticated else self.challenge()
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "basic" and self._basic and self.user.check_basic(token.strip()):
            state.scheme = "Basic"
            return AuthResult(True)
        if scheme.lower() in ("negotiate", "ntlm"):
            return self._negotiate(state, scheme, token.strip())
        return self.challenge()

    def _negotiate(self, state: ConnectionAuth, scheme: str, token: str) -> AuthResult:
        # A token on an authenticated connection starts a new handshake (the client re-authenticates).
        if state.authenticated:
            state.context, state.authenticated = None, False
        try:
            with _ntlm_users(self._user_file):
                if state.context is None:
                    state.context = spnego.server(hostname=self.user.host_name, service="HTTP",
                                                  channel_bindings=self._bindings, protocol="negotiate",
                                                  options=spnego.NegotiateOptions.use_negotiate)
                reply = state.context.step(base64.b64decode(token, validate=True))
        except Exception as exc:  # any token the acceptor refuses (bad password, CBT, garbage) is a 401
            log.debug("Negotiate authentication failed: %s", exc)
            state.context = None
            return self.challenge()
        header = [f"{scheme} {base64.b64encode(reply).decode()}"] if reply else []
        if state.context.complete:
            # The final token (SPNEGO mechListMIC) rides on the 200; pypsrp needs it to finish its context.
            state.authenticated, state.scheme = True, scheme
            return AuthResult(True, header)
        return AuthResult(False, header) if header else self.challenge()
