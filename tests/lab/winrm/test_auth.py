"""Authentication, channel binding and message encryption, as the real clients experience them."""
from __future__ import annotations

import base64
import http.client
import ssl

import pypsrp.exceptions
import pytest
import winrm.exceptions
from pypsrp.shell import WinRS


@pytest.mark.parametrize("wrong", ["password", "username"])
def test_bad_credentials_raise_the_clients_own_errors(server, clients, transport, executor, wrong):
    username = "nobody" if wrong == "username" else clients.username
    password = "wrong" if wrong == "password" else clients.password
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        clients.session(server, transport, username=username, password=password).run_cmd("echo never")
    with pytest.raises(pypsrp.exceptions.AuthenticationError):
        clients.client(server, transport, username=username, password=password).execute_cmd("echo never")
    assert server.requests == [] and executor.calls == []


def test_bad_password_with_raw_ntlm_over_https(server, clients):
    with pytest.raises(pypsrp.exceptions.AuthenticationError):
        clients.client(server, "ntlm-https", auth="ntlm", password="wrong").execute_ps("echo never")


@pytest.mark.parametrize("login", ["{user}", "{USER}", "hv1\\{user}", "HV1\\{user}", ".\\{user}"])
def test_account_name_forms(server, clients, login):
    login = login.format(user=clients.username, USER=clients.username.upper())
    for transport in ("ntlm-http", "basic-https"):
        assert clients.session(server, transport, username=login).run_cmd("echo in").status_code == 0


def test_unauthenticated_request_gets_401_and_the_connection_stays_open(server, certificates):
    connection = http.client.HTTPConnection(server.bind, server.http_port)
    for attempt in range(2):  # the second request proves the 401 did not close the connection
        connection.request("POST", "/wsman", body=b"<s:Envelope/>",
                           headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
        response = connection.getresponse()
        assert (response.status, response.read()) == (401, b"")
        assert response.headers.get_all("WWW-Authenticate") == ["Negotiate"]
        assert response.headers["Content-Length"] == "0"
        assert response.headers["Server"] == "Microsoft-HTTPAPI/2.0"
    connection.close()


def test_https_also_offers_basic(server, certificates):
    context = ssl.create_default_context(cafile=str(certificates["ca_cert"]))
    connection = http.client.HTTPSConnection(server.bind, server.https_port, context=context)
    connection.request("POST", "/wsman", body=b"")
    response = connection.getresponse()
    response.read()
    assert response.headers.get_all("WWW-Authenticate") == ["Negotiate", 'Basic realm="WSMAN"']
    connection.close()


def test_basic_over_plain_http_is_refused_unless_allowed(start_server, clients):
    strict = start_server()
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        clients.session(strict, "basic-http").run_cmd("echo never")

    relaxed = start_server(allow_unencrypted=True)
    assert clients.session(relaxed, "basic-http").run_cmd("echo plain").std_out == b"plain\r\n"
    assert {(r.auth_scheme, r.encrypted) for r in relaxed.requests} == {("Basic", False)}


def test_unencrypted_soap_after_ntlm_on_http_is_refused(server, clients):
    with pytest.raises(winrm.exceptions.WinRMTransportError) as error:
        clients.session(server, "ntlm-http", message_encryption="never").run_cmd("echo never")
    assert error.value.code == 400


def test_ntlm_over_http_is_sealed(server, clients):
    clients.session(server, "ntlm-http").run_cmd("echo secret")
    assert server.requests and all(r.encrypted for r in server.requests)


def test_channel_binding_is_enforced_on_https(start_server, clients):
    strict = start_server()
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        clients.session(strict, "ntlm-https", send_cbt=False).run_cmd("echo never")
    with pytest.raises(pypsrp.exceptions.AuthenticationError):
        WinRS(clients.wsman(strict, "ntlm-https", auth="ntlm", negotiate_send_cbt=False)).open()
    assert clients.session(strict, "ntlm-https").run_cmd("echo bound").status_code == 0

    relaxed = start_server(require_cbt=False)
    assert clients.session(relaxed, "ntlm-https", send_cbt=False).run_cmd("echo unbound").status_code == 0


def test_servers_with_different_accounts_in_one_process(start_server, clients):
    # pyspnego reads NTLM users from a process-wide file setting; each server must still see its own.
    hv1 = start_server("hv1", username="alice", password="alice-pw")
    hv2 = start_server("hv2", username="alice", password="other-pw")

    assert clients.session(hv1, "ntlm-http", username="alice", password="alice-pw").run_cmd("echo 1").status_code == 0
    assert clients.session(hv2, "ntlm-http", username="alice", password="other-pw").run_cmd("echo 2").status_code == 0
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        clients.session(hv2, "ntlm-http", username="alice", password="alice-pw").run_cmd("echo never")


def test_basic_header_is_checked_on_every_request(server, clients, certificates):
    context = ssl.create_default_context(cafile=str(certificates["ca_cert"]))
    connection = http.client.HTTPSConnection(server.bind, server.https_port, context=context)
    good = "Basic " + base64.b64encode(f"{clients.username}:{clients.password}".encode()).decode()
    bad = "Basic " + base64.b64encode(f"{clients.username}:nope".encode()).decode()
    statuses = []
    for header in (good, bad):
        connection.request("POST", "/wsman", body=b"", headers={"Authorization": header})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    assert statuses == [200, 401]
