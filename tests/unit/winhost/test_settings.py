"""Address/port resolution, option validation and the mapping of `winrm` options onto both libraries."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.settings import ConnectionSettings, resolve_address

PASSWORD = "S3cret!pw"
AUTHS = ["negotiate", "ntlm", "kerberos", "credssp", "basic", "certificate"]


@pytest.fixture
def cert_files(tmp_path):
    (tmp_path / "client.pem").write_text("cert")
    (tmp_path / "client.key").write_text("key")
    return str(tmp_path / "client.pem"), str(tmp_path / "client.key")


def settings(host="hv01", addresses=None, **options):
    options.setdefault("username", "CORP\\svc")
    options.setdefault("password", PASSWORD)
    return ConnectionSettings.from_options(host, options, addresses)


def options_for(auth, cert_files, **extra):
    options = dict(auth=auth, **extra)
    if auth == "certificate":
        options.update(cert_pem=cert_files[0], cert_key_pem=cert_files[1])
    return options


@pytest.mark.parametrize("host, addresses, expected", [
    ("hv01", None, ("hv01", None)),
    ("hv01", {"hv02": "10.0.0.2"}, ("hv01", None)),
    ("hv01", {"hv01": "10.0.0.1"}, ("10.0.0.1", None)),
    ("hv01.corp.example", {"hv01": "10.0.0.1:15986"}, ("10.0.0.1", 15986)),
    ("HV01", {"hv01": "10.0.0.1"}, ("10.0.0.1", None)),
    ("hv01.corp.example", {"hv01.corp.example": "10.0.0.9", "hv01": "10.0.0.1"}, ("10.0.0.9", None)),
    ("hv01", {"hv01": "[::1]:5986"}, ("::1", 5986)),
    ("hv01", {"hv01": "[fe80::1]"}, ("fe80::1", None)),
    ("hv01", {"hv01": "fe80::1"}, ("fe80::1", None)),
])
def test_resolve_address(host, addresses, expected):
    assert resolve_address(host, addresses) == expected


@pytest.mark.parametrize("entry", ["10.0.0.1:0", "10.0.0.1:http", "10.0.0.1:70000", ":5986", "[::1]x", "[::1"])
def test_resolve_address_rejects_bad_entries(entry):
    with pytest.raises(SmhvError) as caught:
        resolve_address("hv01", {"hv01": entry})
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "host_addresses[hv01]" in caught.value.message


@pytest.mark.parametrize("options, addresses, port", [
    ({}, None, 5986),
    ({"use_ssl": False, "auth": "ntlm"}, None, 5985),
    ({"port": 443}, None, 443),
    ({"port": 443}, {"hv01": "10.0.0.1:15986"}, 15986),
])
def test_port_defaults_and_overrides(options, addresses, port):
    assert settings(addresses=addresses, **options).port == port


def test_endpoint_brackets_ipv6():
    assert settings(addresses={"hv01": "::1"}).endpoint == "https://[::1]:5986/wsman"
    assert settings(addresses={"hv01": "10.0.0.1:8080"}, use_ssl=False, auth="ntlm").endpoint == "http://10.0.0.1:8080/wsman"


@pytest.mark.parametrize("auth", AUTHS)
def test_pypsrp_kwargs_keep_the_auth_and_encrypt_when_they_can(auth, cert_files):
    kwargs = settings(**options_for(auth, cert_files)).pypsrp_kwargs()
    assert kwargs["auth"] == auth
    assert kwargs["encryption"] == "auto"
    assert kwargs["ssl"] is True and kwargs["port"] == 5986
    assert kwargs["reconnection_retries"] == 0
    if auth == "certificate":
        assert (kwargs["certificate_pem"], kwargs["certificate_key_pem"]) == cert_files
    else:
        assert "certificate_pem" not in kwargs


@pytest.mark.parametrize("auth, transport", [("negotiate", "ntlm"), ("ntlm", "ntlm"), ("kerberos", "kerberos"),
                                             ("credssp", "credssp"), ("basic", "basic"), ("certificate", "certificate")])
def test_pywinrm_kwargs_map_the_auth_to_a_transport(auth, transport, cert_files):
    kwargs = settings(protocol="winrm", **options_for(auth, cert_files)).pywinrm_kwargs()
    assert kwargs["transport"] == transport
    assert kwargs["message_encryption"] == "auto"
    assert kwargs["endpoint"] == "https://hv01:5986/wsman"
    assert (kwargs["read_timeout_sec"], kwargs["operation_timeout_sec"]) == (30, 20)
    if auth == "certificate":
        assert (kwargs["cert_pem"], kwargs["cert_key_pem"]) == cert_files


def test_certificate_validation_is_passed_to_both_libraries(tmp_path):
    ca_path = tmp_path / "ca.pem"
    ca_path.write_text("ca")
    with_ca = settings(ca_path=str(ca_path))
    assert with_ca.pypsrp_kwargs()["cert_validation"] == str(ca_path)
    assert with_ca.pywinrm_kwargs()["server_cert_validation"] == "validate"
    assert with_ca.pywinrm_kwargs()["ca_trust_path"] == str(ca_path)

    system_trust = settings()
    assert system_trust.pypsrp_kwargs()["cert_validation"] is True
    assert "ca_trust_path" not in system_trust.pywinrm_kwargs()

    unchecked = settings(validate_certs=False, ca_path=str(ca_path))
    assert unchecked.pypsrp_kwargs()["cert_validation"] is False
    assert unchecked.pywinrm_kwargs()["server_cert_validation"] == "ignore"
    assert "ca_trust_path" not in unchecked.pywinrm_kwargs()


@pytest.mark.parametrize("protocol", ["psrp", "winrm"])
def test_basic_over_http_is_refused_unless_allowed(protocol):
    with pytest.raises(SmhvError) as caught:
        settings(protocol=protocol, auth="basic", use_ssl=False)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "winrm.allow_basic_over_http" in caught.value.message
    assert PASSWORD not in caught.value.message

    allowed = settings(protocol=protocol, auth="basic", use_ssl=False, allow_basic_over_http=True)
    assert allowed.pypsrp_kwargs()["encryption"] == "never"  # pypsrp refuses "auto" for Basic over HTTP
    assert allowed.pywinrm_kwargs()["transport"] == "basic"


def test_ntlm_over_http_is_encrypted_not_refused():
    assert settings(auth="ntlm", use_ssl=False).pypsrp_kwargs()["encryption"] == "auto"


def test_certificate_auth_needs_https_and_both_files(cert_files):
    with pytest.raises(SmhvError, match="winrm.use_ssl=true"):
        settings(auth="certificate", use_ssl=False, cert_pem=cert_files[0], cert_key_pem=cert_files[1])
    with pytest.raises(SmhvError, match="cert_key_pem"):
        settings(auth="certificate", cert_pem=cert_files[0])
    with pytest.raises(SmhvError, match="no such file"):
        settings(auth="certificate", cert_pem=cert_files[0], cert_key_pem=cert_files[1] + ".missing")


@pytest.mark.parametrize("protocol, auth, needs_password", [
    ("psrp", "ntlm", True), ("psrp", "basic", True), ("psrp", "credssp", True),
    ("psrp", "negotiate", False), ("psrp", "kerberos", False),  # a Kerberos ticket cache will do
    ("winrm", "negotiate", True),  # pywinrm's negotiate is NTLM
])
def test_password_requirements(protocol, auth, needs_password):
    options = dict(protocol=protocol, auth=auth, username=None, password=None)
    if needs_password:
        with pytest.raises(SmhvError, match="needs winrm.username and winrm.password"):
            ConnectionSettings.from_options("hv01", options)
    else:
        assert ConnectionSettings.from_options("hv01", options).username is None


@pytest.mark.parametrize("options, fragment", [
    ({"read_timeout": 20, "operation_timeout": 20}, "winrm.read_timeout (20) must exceed"),
    ({"operation_retries": -1}, "winrm.operation_retries"),
    ({"auth": "digest"}, "winrm.auth must be one of"),
    ({"protocol": "ssh"}, "winrm.protocol must be one of"),
    ({"ca_path": "/nonexistent/ca.pem"}, "winrm.ca_path"),
    ({"proxy": "http://p"}, "Unknown winrm option(s): proxy"),
])
def test_invalid_options(options, fragment):
    with pytest.raises(SmhvError) as caught:
        settings(**options)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert fragment in caught.value.message


def test_options_from_the_argument_spec_use_its_defaults():
    # AnsibleModule hands over every option, None where unset: None must mean "the default".
    full = dict(username="u", password="p", port=None, use_ssl=None, validate_certs=None, ca_path=None, auth=None,
                protocol=None, cert_pem=None, cert_key_pem=None, allow_basic_over_http=None, connection_timeout=None,
                operation_timeout=None, read_timeout=None, operation_retries=None)
    parsed = ConnectionSettings.from_options("hv01", full)
    assert (parsed.auth, parsed.protocol, parsed.port, parsed.validate_certs, parsed.operation_retries) == ("negotiate", "psrp", 5986, True, 3)


def test_no_secret_in_repr():
    client = HostClient("hv01", dict(username="u", password=PASSWORD))
    assert PASSWORD not in repr(client)
    assert PASSWORD not in repr(client.settings)
    assert PASSWORD not in repr(vars(client))


@pytest.mark.parametrize("host", [" hv03", "hv03 ", "\thv03"])
def test_a_host_name_with_surrounding_blanks_is_refused(host):
    with pytest.raises(SmhvError) as caught:
        ConnectionSettings.from_options(host, {}, {"hv03": "127.0.0.1:5986"})
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.details == {"kind": "host name", "name": host}
