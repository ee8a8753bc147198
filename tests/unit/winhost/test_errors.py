"""Every exception the two WinRM libraries (and requests/pyspnego under them) raise maps to one error code.

The exceptions are the libraries' own classes, built the way the libraries chain them (requests wraps
urllib3's MaxRetryError, whose `reason` is the socket-level error).
"""
from __future__ import annotations

import http.client
import socket
import ssl

import pypsrp.exceptions as psrp_errors
import pytest
import requests.exceptions as requests_errors
import spnego.exceptions as spnego_errors
import urllib3.exceptions as urllib3_errors
import winrm.exceptions as winrm_errors

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.errors import CallDeadlineExceeded, exception_chain, translate
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.settings import ConnectionSettings

PASSWORD = "Tr0ub4dor&3"
SETTINGS = ConnectionSettings.from_options("hv01", {"username": "CORP\\svc", "password": PASSWORD, "auth": "ntlm"},
                                           {"hv01": "10.0.0.1"})


def caused(outer, inner):
    outer.__cause__ = inner
    return outer


def via_urllib3(requests_type, reason):
    """requests' exception for a urllib3 failure, chained as requests.adapters does it."""
    return requests_type(urllib3_errors.MaxRetryError(None, "/wsman", reason))


def refused():
    return via_urllib3(requests_errors.ConnectionError, caused(
        urllib3_errors.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"),
        ConnectionRefusedError(111, "Connection refused")))


def dns_failure():
    return via_urllib3(requests_errors.ConnectionError, urllib3_errors.NameResolutionError(
        "hv01.corp.example", None, socket.gaierror(-2, "Name or service not known")))


def untrusted_certificate():
    verify = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate")
    verify.verify_message = "unable to get local issuer certificate"
    return via_urllib3(requests_errors.SSLError, urllib3_errors.SSLError(verify))


def dropped():
    return requests_errors.ConnectionError(urllib3_errors.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")))


def psrp_fault(code, reason):
    return psrp_errors.WSManFaultError(code, "hv01", reason, None, None, None)


def winrm_fault(reason, wsman_fault_code=None, wmierror_code=None):
    return winrm_errors.WSManFaultError(code=500, message="Bad HTTP response returned from server. Code 500", response="<fault/>",
                                        reason=reason, wsman_fault_code=wsman_fault_code, wmierror_code=wmierror_code)


CASES = [
    # (exception, code, transient, words the message must contain)
    (refused(), "HOST_UNREACHABLE", True, ["refused the connection on port 5986", "Enable-PSRemoting"]),
    (dns_failure(), "HOST_UNREACHABLE", False, ["does not resolve", "host_addresses"]),
    (dropped(), "HOST_UNREACHABLE", True, ["lost the connection during agent op vm_inventory"]),
    (requests_errors.ChunkedEncodingError(urllib3_errors.ProtocolError("Response ended prematurely")), "HOST_UNREACHABLE", True,
     ["lost the connection"]),
    (via_urllib3(requests_errors.ConnectTimeout, urllib3_errors.ConnectTimeoutError(None, "timed out")), "HOST_UNREACHABLE", True,
     ["winrm.connection_timeout (30 s)"]),
    (untrusted_certificate(), "HOST_TLS_ERROR", False, ["certificate is not trusted: unable to get local issuer certificate", "winrm.ca_path"]),
    (via_urllib3(requests_errors.SSLError, urllib3_errors.SSLError(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"))),
     "HOST_TLS_ERROR", False, ["TLS handshake failed: ", "WRONG_VERSION_NUMBER", "HTTPS listener", "winrm.ca_path"]),
    (requests_errors.ReadTimeout(urllib3_errors.ReadTimeoutError(None, "/wsman", "Read timed out. (read timeout=30)")),
     "HOST_TIMEOUT", True, ["winrm.read_timeout (30 s)"]),
    (psrp_errors.AuthenticationError("Failed to authenticate the user CORP\\svc with ntlm"), "HOST_AUTH_FAILED", False,
     ["refused the credentials of user 'CORP\\\\svc' with auth ntlm", "winrm.password"]),
    (winrm_errors.InvalidCredentialsError("the specified credentials were rejected by the server"), "HOST_AUTH_FAILED", False,
     ["refused the credentials"]),
    (winrm_errors.BasicAuthDisabledError(), "HOST_AUTH_FAILED", False, ["winrm/config/service/auth"]),
    (spnego_errors.InvalidTokenError(context_msg="NTLM authentication failed"), "HOST_AUTH_FAILED", False, ["refused the credentials"]),
    (winrm_errors.WinRMOperationTimeoutError(), "HOST_TIMEOUT", True, ["winrm.operation_timeout (20 s)"]),
    (psrp_fault(2150858793, "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."),
     "HOST_TIMEOUT", True, ["winrm.operation_timeout"]),
    (psrp_fault(5, "Access is denied."), "HOST_AUTH_FAILED", False, ["denied access", "Administrator"]),
    (winrm_fault("Access is denied.", wsman_fault_code=5), "HOST_AUTH_FAILED", False, ["denied access"]),
    (psrp_fault(2150858843, "The request for the Windows Remote Shell with ShellId X failed because the shell was not found"),
     "HOST_PROTOCOL_ERROR", False, ["WS-Management fault", "shell was not found"]),
    (winrm_fault("Quota violation", wsman_fault_code=2150859174, wmierror_code=0x803381A6), "HOST_PROTOCOL_ERROR", False,
     ["MaxShellsPerUser"]),
    (psrp_errors.WinRMTransportError("http", 500, "<html>Internal error</html>"), "HOST_PROTOCOL_ERROR", False,
     ["HTTP 500", "<html>Internal error</html>"]),
    (winrm_errors.WinRMTransportError("http", 400, ""), "HOST_PROTOCOL_ERROR", False, ["HTTP 400", "(empty body)"]),
    (psrp_errors.WinRMTransportError("http", 503, "busy"), "HOST_UNREACHABLE", True, ["503"]),
    (psrp_errors.InvalidRunspacePoolStateError(1, 2, "open a new Runspace Pool"), "HOST_PROTOCOL_ERROR", False,
     ["WinRM exchange for agent op vm_inventory failed"]),
    (ImportError("Cannot use CredSSP auth as requests-credssp is not installed"), "MISSING_DEPENDENCY", False, ["requests-credssp"]),
    (CallDeadlineExceeded(90), "HOST_TIMEOUT", False, ["did not finish within 90 s"]),
]


@pytest.mark.parametrize("exc, code, transient, words", CASES, ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None)
def test_each_failure_kind_has_one_code(exc, code, transient, words):
    failure = translate(exc, SETTINGS, "vm_inventory")
    assert failure.error.code == code
    assert failure.transient is transient
    message = failure.error.message
    assert message.startswith("Windows host hv01 (https://10.0.0.1:5986/wsman)")
    for word in words:
        assert word in message
    assert failure.error.details["host"] == "hv01"
    assert failure.error.details["address"] == "10.0.0.1"
    assert failure.error.details["op"] == "vm_inventory"


def test_a_bug_is_not_mapped():
    assert translate(KeyError("Name"), SETTINGS, "host_facts") is None


def test_password_in_library_text_is_scrubbed():
    exc = psrp_errors.WinRMTransportError("http", 500, "echo of the request: password=%s" % PASSWORD)
    error = translate(exc, SETTINGS, "host_facts").error
    assert PASSWORD not in error.message
    assert PASSWORD not in repr(error.details)
    assert "********" in error.message


def test_chain_follows_causes_reasons_and_args():
    chain = exception_chain(refused())
    assert [type(e).__name__ for e in chain] == ["ConnectionError", "MaxRetryError", "NewConnectionError", "ConnectionRefusedError"]
