"""WS-Management SOAP: parse a request's headers, build replies and faults.

Replies are built as text rather than with ElementTree because ElementTree would invent its own
namespace prefixes (or need the process-wide `register_namespace`), and both clients are happier with
the prefixes Windows uses. Everything interpolated into them is escaped here or base64.
"""
from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_NS = NS["rsp"] + "/"
CMD_RESOURCE = SHELL_NS + "cmd"
PSRP_RESOURCE_PREFIX = "http://schemas.microsoft.com/powershell/"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# WSManFault codes the clients act on (pywinrm and pypsrp both special-case OPERATION_TIMEOUT).
OPERATION_TIMEOUT = 2150858793  # 0x80338029
INVALID_SELECTORS = 2150858843  # 0x8033805B: unknown ShellId
ACCESS_DENIED = 5
E_FAIL = 2147500037  # 0x80004005, the HRESULT for "unspecified error"
QUOTA_LIMIT = 2150859174  # 0x803381A6: Ansible re-creates the shell when it sees this as a WMI error
# The next two are plausible WinRM codes that were not observed on a real host; only the subcodes matter to clients.
ENCODING_LIMIT = 2150858817
ACTION_NOT_SUPPORTED = 2150858754

_SUBCODES = {
    OPERATION_TIMEOUT: "w:TimedOut",
    INVALID_SELECTORS: "w:InvalidSelectors",
    ACCESS_DENIED: "w:AccessDenied",
    QUOTA_LIMIT: "w:QuotaLimit",
    ENCODING_LIMIT: "w:EncodingLimit",
    ACTION_NOT_SUPPORTED: "a:ActionNotSupported",
}


class Fault(Exception):
    """A WS-Management fault, answered as HTTP 500 with a SOAP Fault body."""

    def __init__(self, code: int, message: str, *, subcode: str | None = None, wmi_error_code: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode or _SUBCODES.get(code, "w:InternalError")
        # Quota faults carry the interesting number in an MSFT_WmiError detail, which is where
        # pywinrm's WSManFaultError.wmierror_code (and so Ansible) looks for it.
        self.wmi_error_code = wmi_error_code


def operation_timeout() -> Fault:
    return Fault(OPERATION_TIMEOUT, "The WS-Management service cannot complete the operation within the time "
                                    "specified in OperationTimeout.")


def shell_not_found(shell_id: str) -> Fault:
    return Fault(INVALID_SELECTORS,
                 f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
                 "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no "
                 "longer exists on the server. Provide the correct ShellId or create a new shell and retry the "
                 "operation.")


def command_not_found(command_id: str) -> Fault:
    return Fault(INVALID_SELECTORS, f"The Windows Remote Shell received a request for CommandId {command_id}, which "
                                    "does not exist in this shell.")


def encoding_limit(size: int, limit: int) -> Fault:
    return Fault(ENCODING_LIMIT, f"The WS-Management service cannot process the request because the request size "
                                 f"({size} bytes) exceeds the configured MaxEnvelopeSize quota ({limit} bytes).")


def action_not_supported(action: str) -> Fault:
    return Fault(ACTION_NOT_SUPPORTED, f"The WS-Management service cannot process the request: the action {action} "
                                       "is not supported by the resource.")


def invalid_request(reason: str) -> Fault:
    return Fault(ACTION_NOT_SUPPORTED, f"The WS-Management service cannot process the request: {reason}",
                 subcode="w:InvalidMessageInformationHeader")


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    body: ET.Element
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    operation_timeout: float = 60.0
    max_envelope_size: int = 153600  # bytes; bounds the size of our *reply*

    @property
    def verb(self) -> str:
        """Short action name (Create, Command, Send, Receive, Signal, Delete...)."""
        return self.action.rstrip("/").rsplit("/", 1)[-1]

    @property
    def shell_id(self) -> str | None:
        return self.selectors.get("ShellId")

    def option(self, name: str) -> str | None:
        return self.options.get(name.upper())

    def find(self, path: str) -> ET.Element | None:
        return self.body.find(path, NS)

    def findall(self, path: str) -> list[ET.Element]:
        return self.body.findall(path, NS)


_DURATION = re.compile(r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?")


def _duration(text: str | None, default: float) -> float:
    match = _DURATION.fullmatch((text or "").strip())
    if not text or not match:
        return default
    d, h, m, s = (float(match.group(k) or 0) for k in "dhms")
    return ((d * 24 + h) * 60 + m) * 60 + s


def parse_request(data: bytes) -> Request:
    """Read the headers both clients send; `a:To`, locales and SessionId are deliberately ignored."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise invalid_request(f"the request is not well-formed XML ({exc})") from None
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    if root.tag != f"{{{NS['s']}}}Envelope" or header is None or body is None:
        raise invalid_request("the request is not a SOAP 1.2 envelope")

    def text(path: str) -> str | None:
        element = header.find(path, NS)
        return element.text.strip() if element is not None and element.text else None

    action, message_id = text("a:Action"), text("a:MessageID")
    if not action or not message_id:
        raise invalid_request("a:Action and a:MessageID are required")
    max_envelope = text("w:MaxEnvelopeSize")
    return Request(
        action=action,
        # RelatesTo must echo this byte for byte: pypsrp compares strings, case included.
        message_id=header.find("a:MessageID", NS).text,
        resource_uri=text("w:ResourceURI") or "",
        body=body,
        selectors={e.get("Name", ""): (e.text or "").strip() for e in header.findall("w:SelectorSet/w:Selector", NS)},
        # Option names are matched case-insensitively: the clients disagree on capitalisation.
        options={e.get("Name", "").upper(): (e.text or "").strip() for e in header.findall("w:OptionSet/w:Option", NS)},
        operation_timeout=_duration(text("w:OperationTimeout"), 60.0),
        max_envelope_size=int(max_envelope) if max_envelope and max_envelope.isdigit() else 153600,
    )


def is_true(value: str | None) -> bool:
    """WS-Man booleans arrive as true/TRUE/True depending on the client."""
    return (value or "").strip().lower() == "true"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _envelope(action: str, relates_to: str | None, body: str) -> bytes:
    namespaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items() if prefix != "f")
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to is not None else ""
    return (
        f'<s:Envelope xml:lang="en-US" {namespaces}><s:Header>'
        f"<a:Action>{escape(action)}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>{relates}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode("utf-8")


def response(request: Request, body: str) -> bytes:
    """A reply to `request`: Action + "Response", RelatesTo = the request's MessageID."""
    return _envelope(request.action + "Response", request.message_id, body)


def fault_response(fault: Fault, relates_to: str | None, machine: str) -> bytes:
    kind = "s:Receiver" if fault.subcode in ("w:TimedOut", "w:InternalError", "w:QuotaLimit") else "s:Sender"
    message = escape(fault.message)
    wmi = ""
    if fault.wmi_error_code is not None:
        wmi = ('<m:MSFT_WmiError xmlns:m="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError">'
               f"<m:error_Code>{fault.wmi_error_code}</m:error_Code><m:Message>{message}</m:Message>"
               "</m:MSFT_WmiError>")
    body = (
        f"<s:Fault><s:Code><s:Value>{kind}</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{message}</f:Message></f:WSManFault>{wmi}</s:Detail></s:Fault>"
    )
    return _envelope(FAULT_ACTION, relates_to, body)
