"""A private CA for the lab, so clients keep validate_certs on.

The CA and one loopback server certificate (SANs 127.0.0.1, ::1, localhost and every simulated host
name) are generated once per state dir and reused across `down`/`up`, so a client that trusted the
CA once keeps trusting the lab.
"""
from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.pem"
SERVER_KEY = "server.key"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smhv-lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ensure_certificates(directory: Path, dns_names: list[str] | None = None) -> dict[str, Path]:
    """Create (or reuse) the CA and a server certificate valid for loopback and `dns_names`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"ca_cert": directory / CA_CERT, "ca_key": directory / CA_KEY,
             "cert": directory / SERVER_CERT, "key": directory / SERVER_KEY}
    now = datetime.datetime.now(datetime.timezone.utc)
    if paths["ca_cert"].exists() and paths["ca_key"].exists():
        ca_key = serialization.load_pem_private_key(paths["ca_key"].read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(paths["ca_cert"].read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (x509.CertificateBuilder().subject_name(_name("smhv-lab CA")).issuer_name(_name("smhv-lab CA"))
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        _write_key(paths["ca_key"], ca_key)
        paths["ca_cert"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    names = sorted({"localhost", *(dns_names or [])})
    if paths["cert"].exists() and paths["key"].exists():
        cert = x509.load_pem_x509_certificate(paths["cert"].read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if set(names) <= set(san.get_values_for_type(x509.DNSName)):
            return paths
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = [x509.DNSName(n) for n in names]
    alt_names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_key(paths["key"], key)
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def server_context(paths: dict[str, Path]) -> ssl.SSLContext:
    """TLS context for every lab listener (HTTPS ONTAP, WinRM 5986-style, control API)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(paths["cert"]), str(paths["key"]))
    return context
