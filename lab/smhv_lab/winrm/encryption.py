"""MS-WSMV 2.2.9.1.1 message encryption: SOAP sealed with the connection's Negotiate context.

Over plain HTTP both clients seal every body with the NTLM session keys and wrap it in this
multipart/encrypted framing. NTLM sealing is RC4 with sequence numbers, so wrap and unwrap must
happen strictly in order per connection; the handler serialises them because one connection
carries one request at a time.
"""
from __future__ import annotations

import re
import struct

from spnego import ContextProxy
from spnego.exceptions import SpnegoError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
# pywinrm looks for the literal substring protocol="..." (quoted) to decide whether to decrypt.
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")


class EncryptionError(Exception):
    """The body is not a well-formed encrypted message, or it does not unseal with this context."""


def is_encrypted(content_type: str) -> bool:
    return content_type.strip().lower().startswith("multipart/encrypted")


def unwrap(context: ContextProxy, body: bytes) -> bytes:
    """Unseal every part of a multipart/encrypted body and check it against its declared Length."""
    parts = [part for part in body.split(_BOUNDARY + b"\r\n") if part]
    if not parts or len(parts) % 2:
        raise EncryptionError("expected pairs of header and payload parts")
    message = b""
    for header, payload in zip(parts[::2], parts[1::2]):
        declared = _LENGTH.search(header)
        payload = payload.removesuffix(_BOUNDARY + b"--\r\n")
        if not declared or not payload.startswith(_OCTET_STREAM) or len(payload) < len(_OCTET_STREAM) + 4:
            raise EncryptionError("malformed encrypted part")
        sealed = payload[len(_OCTET_STREAM):]
        signature_length = struct.unpack("<I", sealed[:4])[0]
        try:
            plain = context.unwrap_winrm(sealed[4:4 + signature_length], sealed[4 + signature_length:])
        except SpnegoError as exc:
            raise EncryptionError(f"cannot unseal the message: {exc}") from None
        if len(plain) != int(declared.group(1)):
            raise EncryptionError(f"unsealed {len(plain)} bytes but the header declared {declared.group(1)}")
        message += plain
    return message


def wrap(context: ContextProxy, message: bytes) -> bytes:
    sealed = context.wrap_winrm(message)
    return b"".join([
        _BOUNDARY, b"\r\n",
        b"\tContent-Type: ", PROTOCOL.encode(), b"\r\n",
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=", str(len(message)).encode(), b"\r\n",
        _BOUNDARY, b"\r\n",
        _OCTET_STREAM, struct.pack("<I", len(sealed.header)), sealed.header, sealed.data,
        _BOUNDARY, b"--\r\n",
    ])
