# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pypsrp, pywinrm, requests and pyspnego raise, turned into one SmhvError per failure kind.

Each message says what failed, on which host (name and endpoint) and what to do. `transient` tells
HostClient whether the same call on a fresh connection might succeed (a refused or lost connection,
a timeout) as opposed to a failure that would repeat (bad password, untrusted certificate, unknown
name). No message or detail carries a password: library texts are scrubbed before use.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import sys

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

try:
    import requests.exceptions as requests_errors
except ImportError:  # the WinRM libraries depend on requests; without it, HostClient reports them missing
    requests_errors = None

try:
    import pypsrp.exceptions as psrp_errors
except ImportError:
    psrp_errors = None

try:
    import spnego.exceptions as spnego_errors
except ImportError:
    spnego_errors = None

try:
    from urllib3.exceptions import NameResolutionError
except ImportError:  # urllib3 < 2 reports DNS failures only as socket.gaierror, which is also checked
    NameResolutionError = socket.gaierror

# WS-Management's "no output within OperationTimeout" fault: a normal answer to a Receive, an
# overloaded host when it answers anything else.
WSMAN_OPERATION_TIMEOUT = 2150858793
WSMAN_ACCESS_DENIED = 5
WMI_QUOTA_VIOLATION = 0x803381A6

EXCERPT = 300


class CallDeadlineExceeded(Exception):
    """Raised by a session when an agent call outlives the `timeout` its caller gave."""


@dataclasses.dataclass(frozen=True)
class Failure:
    error: SmhvError
    transient: bool


def _types(module, *names):
    return tuple(getattr(module, name) for name in names) if module is not None else ()


# pywinrm is not imported here: PSRP is the default protocol and pywinrm (with requests_ntlm and spnego)
# costs a module ~80 ms to import. Its exceptions can only come from a loaded pywinrm, so translate()
# asks sys.modules for them (_winrm_errors) and finds them exactly when a WinRS session ran.
PSRP_AUTH_ERRORS = _types(psrp_errors, "AuthenticationError") + _types(spnego_errors, "SpnegoError")
PSRP_WSMAN_FAULTS = _types(psrp_errors, "WSManFaultError")
PSRP_HTTP_ERRORS = _types(psrp_errors, "WinRMTransportError")
PSRP_LIBRARY_ERRORS = _types(psrp_errors, "WinRMError")
SSL_ERRORS = _types(requests_errors, "SSLError") + (ssl.SSLError,)
CONNECT_TIMEOUTS = _types(requests_errors, "ConnectTimeout")
READ_TIMEOUTS = _types(requests_errors, "ReadTimeout")
CONNECTION_ERRORS = _types(requests_errors, "ConnectionError", "ChunkedEncodingError") + (ConnectionError,)


def redact(text, secrets):
    text = "" if text is None else str(text)
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


def excerpt(text, limit=EXCERPT):
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "..."


def _winrm_errors():
    """pywinrm's exceptions module if a WinRS session loaded it, else None (then none of its exceptions exist)."""
    return sys.modules.get("winrm.exceptions")


def exception_chain(exc):
    """exc and every exception behind it (causes, contexts, urllib3 `reason`s, wrapped args)."""
    chain, pending = [], [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in chain):
            continue
        chain.append(current)
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return chain


def _find(chain, types):
    return next((e for e in chain if types and isinstance(e, types)), None)


def _fault_code(exc, winrm_errors):
    """The WSManFault Code of either library's WSManFaultError (pypsrp: .code; pywinrm: .wsman_fault_code)."""
    code = getattr(exc, "wsman_fault_code", None) if winrm_errors and isinstance(exc, winrm_errors.WSManFaultError) else exc.code
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def _tls_failure(chain, settings):
    """What went wrong in the TLS handshake, and what to do about it."""
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        return ("the host's certificate is not trusted: %s" % (getattr(verify, "verify_message", None) or verify),
                "If it comes from a private CA, give that CA's PEM file in winrm.ca_path (winrm.validate_certs=false only for "
                "a lab), and make sure the certificate names %s." % settings.address)
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    return ("TLS handshake failed: %s" % (getattr(tls, "reason", None) or tls or chain[0]),
            "Check that port %d is an HTTPS listener (winrm.use_ssl=false for 5985-style HTTP) and that the host's certificate "
            "is valid; a private CA goes in winrm.ca_path." % settings.port)


def translate(exc, settings, op):
    """Failure for an exception raised while calling `op` on the host, or None for what is not a host failure (a bug)."""
    chain = exception_chain(exc)
    winrm_errors = _winrm_errors()
    auth_errors = PSRP_AUTH_ERRORS + _types(winrm_errors, "AuthenticationError")
    wsman_faults = PSRP_WSMAN_FAULTS + _types(winrm_errors, "WSManFaultError")
    http_errors = PSRP_HTTP_ERRORS + _types(winrm_errors, "WinRMTransportError")
    library_errors = PSRP_LIBRARY_ERRORS + _types(winrm_errors, "WinRMError")
    operation_timeouts = _types(winrm_errors, "WinRMOperationTimeoutError")
    where = "Windows host %s (%s)" % (settings.host, settings.endpoint)
    details = {"host": settings.host, "address": settings.address, "port": settings.port, "op": op,
               "protocol": settings.protocol, "auth": settings.auth, "exception": type(exc).__name__,
               "reason": excerpt(redact(exc, settings.secrets), 1000)}

    def failure(code, message, transient=False, **extra):
        details.update(extra)
        return Failure(SmhvError(code, redact(message, settings.secrets), details), transient)

    if isinstance(exc, SmhvError):
        return Failure(exc, False)
    if isinstance(exc, CallDeadlineExceeded):
        return failure("HOST_TIMEOUT", "%s: agent op %s did not finish within %s s; it was asked to stop and may have partly run. "
                       "Give the call more time or check the host's load." % (where, op, exc.args[0]), timeout=exc.args[0])
    if isinstance(exc, ImportError):
        return failure("MISSING_DEPENDENCY", "%s: winrm.auth=%s needs a Python library that is not installed on the controller: %s. "
                       "For CredSSP: pip install requests-credssp; for Kerberos: pip install pypsrp[kerberos] or pywinrm[kerberos]."
                       % (where, settings.auth, exc))

    if _find(chain, SSL_ERRORS) is not None:
        return failure("HOST_TLS_ERROR", "%s: %s. %s" % ((where,) + _tls_failure(chain, settings)))
    if _find(chain, auth_errors) is not None:
        return failure("HOST_AUTH_FAILED", "%s refused the credentials of user %r with auth %s. Check winrm.username and "
                       "winrm.password, that the account may use WinRM (local Administrators or Remote Management Users) "
                       "and that the host allows this auth (winrm get winrm/config/service/auth)."
                       % (where, settings.username or "", settings.auth))
    if _find(chain, CONNECT_TIMEOUTS) is not None:
        return failure("HOST_UNREACHABLE", "%s did not accept a connection within winrm.connection_timeout (%d s). Check that "
                       "the host is up and that no firewall drops port %d." % (where, settings.connection_timeout, settings.port),
                       transient=True)
    if _find(chain, READ_TIMEOUTS) is not None:
        return failure("HOST_TIMEOUT", "%s did not answer within winrm.read_timeout (%d s) during agent op %s. The host or its "
                       "WinRM service may be overloaded; raise winrm.read_timeout if it is just slow." % (where, settings.read_timeout, op),
                       transient=True)
    if _find(chain, (NameResolutionError, socket.gaierror)) is not None:
        return failure("HOST_UNREACHABLE", "%s: the name %s does not resolve. Fix DNS or map the host to an address in "
                       "host_addresses." % (where, settings.address))
    if _find(chain, CONNECTION_ERRORS) is not None:
        if _find(chain, (ConnectionRefusedError,)) is not None:
            return failure("HOST_UNREACHABLE", "%s refused the connection on port %d. Check that WinRM listens there "
                           "(Enable-PSRemoting / winrm quickconfig; HTTPS needs a listener with a certificate) and that "
                           "winrm.port, winrm.use_ssl and host_addresses are right." % (where, settings.port), transient=True)
        return failure("HOST_UNREACHABLE", "%s closed or lost the connection during agent op %s. Check the host's WinRM service "
                       "and the network between this controller and the host." % (where, op), transient=True)

    if operation_timeouts and isinstance(exc, operation_timeouts):
        code = WSMAN_OPERATION_TIMEOUT
    elif wsman_faults and isinstance(exc, wsman_faults):
        code = _fault_code(exc, winrm_errors)
    else:
        code = None
    if code == WSMAN_OPERATION_TIMEOUT:
        return failure("HOST_TIMEOUT", "%s's WinRM service did not complete a request within winrm.operation_timeout (%d s) "
                       "during agent op %s. The host may be overloaded." % (where, settings.operation_timeout, op), transient=True)
    if wsman_faults and isinstance(exc, wsman_faults):
        reason = getattr(exc, "reason", None) or str(exc)
        if code == WSMAN_ACCESS_DENIED:
            return failure("HOST_AUTH_FAILED", "%s denied access to user %r: %s. The account needs to be a local Administrator "
                           "(or in Remote Management Users) on the host." % (where, settings.username or "", reason),
                           wsman_fault_code=code)
        hint = "Check the host's WinRM service and event log (Microsoft-Windows-WinRM/Operational)."
        if getattr(exc, "wmierror_code", None) == WMI_QUOTA_VIOLATION:
            hint = "The host refused a new shell or operation because a WinRM quota is full (MaxShellsPerUser, " \
                   "MaxConcurrentOperationsPerUser); close other sessions or raise the quota."
        return failure("HOST_PROTOCOL_ERROR", "%s answered agent op %s with a WS-Management fault: %s. %s" % (where, op, reason, hint),
                       wsman_fault_code=code)
    if http_errors and isinstance(exc, http_errors):
        status, body = exc.code, redact(exc.response_text, settings.secrets)
        if status == 503:
            return failure("HOST_UNREACHABLE", "%s answered HTTP 503 (service unavailable) during agent op %s; its WinRM "
                           "service may be restarting." % (where, op), transient=True, http_status=status)
        return failure("HOST_PROTOCOL_ERROR", "%s answered agent op %s with HTTP %s: %s. Check that the endpoint is a WinRM "
                       "listener and that the host allows this auth and message encryption." % (where, op, status, excerpt(body) or "(empty body)"),
                       http_status=status, body=excerpt(body))
    if library_errors and isinstance(exc, library_errors):
        return failure("HOST_PROTOCOL_ERROR", "%s: the WinRM exchange for agent op %s failed: %s." % (where, op, excerpt(str(exc))))
    return None
