# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How to reach one Windows host: its address and port, and the `winrm` options checked and
translated into the keyword arguments of pypsrp's WSMan and pywinrm's Protocol.

Everything here is pure (no network, no third-party import), so a wrong option fails before the
first packet with INVALID_ARGUMENT naming the option to fix.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import winrm_options_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import refuse_surrounding_blanks

HTTP_PORT = 5985
HTTPS_PORT = 5986

# pywinrm has no SPNEGO of its own: its "ntlm" transport (requests-ntlm) is what it offers for
# Negotiate, so `negotiate` over protocol winrm means NTLM. Kerberos negotiation needs protocol psrp
# (pyspnego) or auth kerberos.
PYWINRM_TRANSPORTS = {
    "negotiate": "ntlm",
    "ntlm": "ntlm",
    "kerberos": "kerberos",
    "credssp": "credssp",
    "basic": "basic",
    "certificate": "certificate",
}

# Auth kinds that cannot fall back on a Kerberos ticket cache and so need both a user and a password.
# pywinrm's NTLM needs them too, which makes `negotiate` password-only over protocol winrm.
_PASSWORD_AUTHS = {"basic", "ntlm", "credssp"}


def _option_defaults():
    return {name: spec.get("default") for name, spec in winrm_options_spec().items()}


def _invalid(message, **details):
    return SmhvError("INVALID_ARGUMENT", message, details)


def _parse_address(host, entry):
    """Split a host_addresses value into (address, port or None): "a", "a:p", "[v6]", "[v6]:p" or a bare IPv6."""
    entry = str(entry).strip()
    port = None
    if entry.startswith("["):
        address, sep, rest = entry[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise _invalid("host_addresses[%s] = %r is not 'address', 'address:port' or '[ipv6]:port'." % (host, entry), host=host)
        port = rest[1:] or None
    elif entry.count(":") == 1:
        address, port = entry.split(":")
    else:
        address = entry  # a name, an IPv4 address or a bare IPv6 address (several colons, no port)
    if not address:
        raise _invalid("host_addresses[%s] has an empty address." % host, host=host)
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise _invalid("host_addresses[%s] = %r has an invalid port; expected 1-65535." % (host, entry), host=host)
        port = int(port)
    return address, port


def resolve_address(host, host_addresses=None):
    """The address (and port, when the entry names one) to use for `host`.

    Looked up by the full name, then by the short name (the part before the first dot), both
    case-insensitively because Windows names are: a cluster reports its node as "HV01" while the
    playbook's map says "hv01". Hosts not in the map are reached by their own name.
    """
    by_name = {str(key).lower(): value for key, value in (host_addresses or {}).items()}
    for key in (host.lower(), host.split(".", 1)[0].lower()):
        if key in by_name and by_name[key]:
            return _parse_address(host, by_name[key])
    return host, None


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """Validated connection parameters for one host; `password` is kept out of repr()."""

    host: str
    address: str
    port: int
    use_ssl: bool
    protocol: str
    auth: str
    username: str | None
    password: str | None = dataclasses.field(repr=False)
    validate_certs: bool
    ca_path: str | None
    cert_pem: str | None
    cert_key_pem: str | None
    connection_timeout: int
    operation_timeout: int
    read_timeout: int
    operation_retries: int

    @classmethod
    def from_options(cls, host, winrm_options, host_addresses=None):
        options = _option_defaults()
        options.update({key: value for key, value in (winrm_options or {}).items() if value is not None})
        refuse_surrounding_blanks("host name", host)
        unknown = sorted(set(options) - set(_option_defaults()))
        if unknown:
            raise _invalid("Unknown winrm option(s): %s." % ", ".join(unknown), host=host)
        address, mapped_port = resolve_address(host, host_addresses)
        use_ssl = bool(options["use_ssl"])
        port = mapped_port or options["port"] or (HTTPS_PORT if use_ssl else HTTP_PORT)
        settings = cls(
            host=host, address=address, port=int(port), use_ssl=use_ssl,
            protocol=options["protocol"], auth=options["auth"],
            username=options["username"], password=options["password"],
            validate_certs=bool(options["validate_certs"]), ca_path=options["ca_path"],
            cert_pem=options["cert_pem"], cert_key_pem=options["cert_key_pem"],
            connection_timeout=int(options["connection_timeout"]), operation_timeout=int(options["operation_timeout"]),
            read_timeout=int(options["read_timeout"]), operation_retries=int(options["operation_retries"]),
        )
        settings._validate(bool(options["allow_basic_over_http"]))
        return settings

    def _validate(self, allow_basic_over_http):
        spec = winrm_options_spec()
        for option in ("auth", "protocol"):
            if getattr(self, option) not in spec[option]["choices"]:
                raise _invalid("winrm.%s must be one of %s, got %r." % (option, ", ".join(spec[option]["choices"]), getattr(self, option)),
                               host=self.host)
        if self.auth == "basic" and not self.use_ssl and not allow_basic_over_http:
            raise _invalid("winrm.auth=basic over HTTP would send the password for host %s in clear text. Use winrm.use_ssl=true "
                           "(port %d), another auth such as ntlm (encrypted over HTTP), or set winrm.allow_basic_over_http=true "
                           "if you accept the risk." % (self.host, HTTPS_PORT), host=self.host, option="winrm.allow_basic_over_http")
        if self.auth == "certificate":
            if not self.use_ssl:
                raise _invalid("winrm.auth=certificate needs winrm.use_ssl=true: the client certificate is presented in the TLS handshake.",
                               host=self.host, option="winrm.use_ssl")
            for option in ("cert_pem", "cert_key_pem"):
                path = getattr(self, option)
                if not path:
                    raise _invalid("winrm.auth=certificate needs winrm.cert_pem and winrm.cert_key_pem.", host=self.host, option="winrm." + option)
                if not os.path.isfile(path):
                    raise _invalid("winrm.%s: no such file %s." % (option, path), host=self.host, option="winrm." + option)
        needs_password = self.auth in _PASSWORD_AUTHS or (self.protocol == "winrm" and self.auth == "negotiate")
        if needs_password and (not self.username or self.password is None):
            raise _invalid("winrm.auth=%s over protocol %s needs winrm.username and winrm.password." % (self.auth, self.protocol),
                           host=self.host, option="winrm.username" if not self.username else "winrm.password")
        if self.ca_path and not os.path.exists(self.ca_path):
            raise _invalid("winrm.ca_path: no such file or directory %s." % self.ca_path, host=self.host, option="winrm.ca_path")
        if min(self.connection_timeout, self.operation_timeout) < 1:
            raise _invalid("winrm.connection_timeout and winrm.operation_timeout must be at least 1 second.", host=self.host)
        if self.read_timeout <= self.operation_timeout:
            # The host may hold a Receive for operation_timeout before answering; a shorter read
            # timeout would cut every long operation off (pywinrm refuses it outright).
            raise _invalid("winrm.read_timeout (%d) must exceed winrm.operation_timeout (%d)." % (self.read_timeout, self.operation_timeout),
                           host=self.host, option="winrm.read_timeout")
        if self.operation_retries < 0:
            raise _invalid("winrm.operation_retries must be 0 or more.", host=self.host, option="winrm.operation_retries")

    @property
    def endpoint(self):
        """The WS-Management URL, for messages and for pywinrm (pypsrp builds the same one itself)."""
        address = self.address
        try:
            address = "[%s]" % ipaddress.IPv6Address(address).compressed
        except ValueError:
            pass
        return "%s://%s:%d/wsman" % ("https" if self.use_ssl else "http", address, self.port)

    @property
    def cert_validation(self):
        """What both libraries pass to requests as `verify`: False, True (system/env trust) or the CA path."""
        if not self.validate_certs:
            return False
        return self.ca_path or True

    def pypsrp_kwargs(self):
        kwargs = dict(
            server=self.address, port=self.port, ssl=self.use_ssl, auth=self.auth,
            username=self.username, password=self.password,
            cert_validation=self.cert_validation,
            connection_timeout=self.connection_timeout, read_timeout=self.read_timeout,
            operation_timeout=self.operation_timeout,
            # Message encryption wherever the auth can seal (NTLM/Kerberos/CredSSP over HTTP); Basic over
            # HTTP cannot, and pypsrp refuses "auto" for it, so only that (explicitly allowed) case goes clear.
            encryption="never" if self.auth == "basic" and not self.use_ssl else "auto",
            # HostClient owns retries (it knows which agent calls may be re-sent); urllib3 connect retries
            # underneath would multiply them.
            reconnection_retries=0,
        )
        if self.auth == "certificate":
            kwargs.update(certificate_pem=self.cert_pem, certificate_key_pem=self.cert_key_pem)
        return kwargs

    def pywinrm_kwargs(self):
        kwargs = dict(
            endpoint=self.endpoint, transport=PYWINRM_TRANSPORTS[self.auth],
            username=self.username, password=self.password,
            server_cert_validation="validate" if self.validate_certs else "ignore",
            # pywinrm has a single timeout for connect and read: read_timeout (connection_timeout is unused).
            read_timeout_sec=self.read_timeout, operation_timeout_sec=self.operation_timeout,
            message_encryption="auto",
        )
        if self.validate_certs and self.ca_path:
            kwargs["ca_trust_path"] = self.ca_path
        if self.auth == "certificate":
            kwargs.update(cert_pem=self.cert_pem, cert_key_pem=self.cert_key_pem)
        return kwargs

    @property
    def secrets(self):
        """Values that must never appear in a message: scrubbed from anything a library says."""
        return [self.password] if self.password else []
