# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One live WinRM connection to a host, per protocol, that runs the agent and returns its raw output.

PsrpSession keeps one pypsrp RunspacePool open (one TLS/NTLM handshake, one remote PowerShell)
and runs each agent call as a pipeline in it, sending the agent script only with the pool's first call. WinrsSession keeps one pywinrm cmd shell open and
runs each call as `PowerShell -EncodedCommand <bootstrap>` with the agent and request on stdin
(the command line cannot hold the agent; see the agent module). Both count every WS-Management
message they send in `stats.round_trips`, and poll a long-running call through the host's
OperationTimeout faults instead of failing it. Errors are left to winhost_errors.translate().
"""

from __future__ import annotations

import base64
import json
import re
import time
import xml.etree.ElementTree as ET
from typing import NamedTuple

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.errors import CallDeadlineExceeded

try:
    from pypsrp.complex_objects import PSInvocationState
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan
except ImportError as import_error:
    PYPSRP_IMPORT_ERROR = import_error
else:
    PYPSRP_IMPORT_ERROR = None


# Raw stdin bytes per WinRS Send. Base64 makes them 4/3 larger, and a request must fit the host's
# MaxEnvelopeSizekb: 100 KB raw (~134 KiB encoded) fits even Windows 2008 R2's 150 KiB default.
STDIN_CHUNK = 100_000

POWERSHELL_ARGUMENTS = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand"]

# PowerShell's FullyQualifiedErrorId for a command name it cannot resolve.
COMMAND_NOT_FOUND = "CommandNotFoundException"

_CLIXML_HEADER = "#< CLIXML"
_CLIXML_NS = "{http://schemas.microsoft.com/powershell/2004/04}"
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def encoded_bootstrap():
    """agent.BOOTSTRAP_SCRIPT for powershell.exe -EncodedCommand: base64 of UTF-16LE.

    The bootstrap reads stdin up to the sentinel line and runs the script it finds there with the request as
    its -Request value. Creating a script block from text is the one exception to "no code from data", and
    a safe one: the text is AGENT_SCRIPT, the collection's own code sent verbatim, as Ansible's own
    bootstrap_wrapper does with its exec wrapper; the user's data only ever binds to -Request.
    """
    return base64.b64encode(agent.BOOTSTRAP_SCRIPT.encode("utf-16-le")).decode("ascii")


def winrs_stdin(request_json):
    """Everything the bootstrap reads on stdin: one line of JSON {script, request}, then the sentinel."""
    payload = json.dumps({"script": agent.AGENT_SCRIPT, "request": request_json}, ensure_ascii=True,
                         separators=(",", ":"))
    return payload.encode("ascii") + agent.STDIN_SENTINEL


class AgentOutput(NamedTuple):
    """What the agent process left behind: stdout text, error text (CLIXML decoded) and rc (None over PSRP)."""

    stdout: str
    stderr: str
    rc: int | None


def clixml_to_text(data):
    """The error-stream text in PowerShell's CLIXML stderr (`#< CLIXML` + <Objs> blocks); other text unchanged.

    Progress records are dropped: PowerShell writes them with rc 0, so they are noise, not failure.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text.startswith(_CLIXML_HEADER):
        return text
    blocks = re.findall(r"<Objs\b.*?</Objs>", text, re.DOTALL)
    if not blocks:
        return text  # truncated or not CLIXML after all: the raw text tells more than nothing
    lines = []
    for block in blocks:
        try:
            root = ET.fromstring(block)
        except ET.ParseError:
            return text
        for element in root.iter(_CLIXML_NS + "S"):
            if element.get("S") == "Error" and element.text:
                lines.append(_CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), element.text))
    # A character outside the BMP arrives as two escaped UTF-16 surrogates; join them back.
    return "".join(lines).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _require(import_error, package):
    if import_error is not None:
        raise SmhvError("MISSING_DEPENDENCY", "%s is required on the controller to talk to Windows hosts over this winrm.protocol: "
                        "pip install %s (%s)." % (package, package, import_error), {"package": package})


def _pywinrm():
    """The pywinrm package, imported only when a WinRS session is made: PSRP is the default protocol, and pywinrm
    (with requests_ntlm and spnego) added ~80 ms to every module's start."""
    try:
        import winrm.exceptions
        import winrm.protocol
        import winrm.transport
    except ImportError as import_error:
        _require(import_error, "pywinrm")
    return winrm


def _count_messages(transport, method_name, stats):
    """Wrap the library transport's one send method so every WS-Management message counts a round trip."""
    send = getattr(transport, method_name)

    def counted_send(*args, **kwargs):
        stats.round_trips += 1
        return send(*args, **kwargs)

    setattr(transport, method_name, counted_send)


def _best_effort(stop, *args):
    """Ask the host to stop an overdue command; the caller hears about the deadline whatever happens here."""
    try:
        stop(*args)
    except Exception:  # pylint: disable=broad-except
        pass


def _agent_output(pipeline):
    return AgentOutput(stdout="\n".join(str(item) for item in pipeline.output if item is not None),
                       stderr="\n".join(str(record) for record in pipeline.streams.error), rc=None)


def _agent_missing(pipeline):
    """Whether a short call found no agent of this version in the runspace, so the op did not run.

    PowerShell fails a pipeline whose command it cannot resolve (the ErrorRecord's FullyQualifiedErrorId is
    CommandNotFoundException); an agent of another version answers AGENT_VERSION_MISMATCH and nothing else.
    """
    if pipeline.state == PSInvocationState.FAILED:
        return any(getattr(record, "fq_error", None) == COMMAND_NOT_FOUND for record in pipeline.streams.error)
    outputs = [item for item in pipeline.output if item is not None]
    if pipeline.state != PSInvocationState.COMPLETED or len(outputs) != 1:
        return False
    try:
        document = agent.decode_response(str(outputs[0]))
    except ValueError:
        return False
    return not document["ok"] and document["error"]["code"] == agent.VERSION_MISMATCH_CODE


class PsrpSession:
    """A RunspacePool opened on first use and reused by every later call.

    The agent travels once per pool: the first call runs AGENT_SCRIPT with UseLocalScope false, so PowerShell
    runs it dot-sourced in the runspace's global scope and its functions stay defined; later calls send only
    `Invoke-SmhvAgent -Request <json> -AgentSha <hash>` (the request stays a parameter value). If the function
    is gone (CommandNotFoundException: a runspace reset, a pool with more than one runspace) or is another
    agent version (AGENT_VERSION_MISMATCH), the same call is sent again, once, with the script.
    """

    def __init__(self, settings, stats):
        _require(PYPSRP_IMPORT_ERROR, "pypsrp")
        self._settings = settings
        self._stats = stats
        self._wsman = None
        self._pool = None
        self._agent_defined = False  # whether a call of this pool has run the script
        self.command_sent = False  # whether the current call may have started on the host

    def _runspace_pool(self):
        if self._pool is None:
            self._wsman = WSMan(**self._settings.pypsrp_kwargs())
            _count_messages(self._wsman.transport, "send", self._stats)
            pool = RunspacePool(self._wsman)
            pool.open()
            self._pool = pool
            self._agent_defined = False  # a new pool is a new runspace: nothing of ours is defined there
            self._stats.connects += 1
        return self._pool

    def open(self):
        self._runspace_pool()

    def run(self, request_json, timeout=None):
        self.command_sent = False
        deadline = None if timeout is None else time.monotonic() + timeout
        pool = self._runspace_pool()
        if self._agent_defined:
            pipeline = PowerShell(pool)
            pipeline.add_cmdlet(agent.ENTRY_FUNCTION).add_parameter("Request", request_json).add_parameter("AgentSha", agent.AGENT_SHA)
            self._invoke(pipeline, deadline, timeout)
            if not _agent_missing(pipeline):
                return _agent_output(pipeline)
            # The op did not run (no such function, or another agent that refused before reading the request).
            self._agent_defined = False
            self._stats.agent_resends += 1
        pipeline = PowerShell(pool)
        pipeline.add_script(agent.AGENT_SCRIPT, use_local_scope=False).add_parameter("Request", request_json)
        self._stats.agent_scripts += 1
        self._invoke(pipeline, deadline, timeout)
        # Completed: the script ran to its end, so its functions are defined, whatever the op answered.
        self._agent_defined = pipeline.state == PSInvocationState.COMPLETED
        return _agent_output(pipeline)

    def _invoke(self, pipeline, deadline, timeout):
        self.command_sent = True
        pipeline.begin_invoke()
        # poll_invoke() treats the host's OperationTimeout fault as "no output yet", so a slow op is polled
        # every operation_timeout seconds for as long as it runs (or until the caller's deadline).
        while pipeline.state == PSInvocationState.RUNNING:
            if deadline is not None and time.monotonic() > deadline:
                _best_effort(pipeline.stop)
                raise CallDeadlineExceeded(timeout)
            pipeline.poll_invoke()

    def close(self):
        """Close the pool on the host (frees its runspace at once instead of at the idle timeout)."""
        try:
            if self._pool is not None:
                self._pool.close()
        finally:
            self.discard()

    def discard(self):
        """Drop the connection without talking to the host: after a transport failure it cannot be trusted."""
        if self._wsman is not None:
            self._wsman.close()
        self._wsman = self._pool = None


class WinrsSession:
    """A cmd shell opened on first use; each call runs one PowerShell process in it."""

    def __init__(self, settings, stats):
        self._winrm = _pywinrm()
        if settings.auth == "kerberos" and not self._winrm.transport.HAVE_KERBEROS:
            _require(ImportError("pywinrm found no Kerberos support"), "pywinrm[kerberos]")
        if settings.auth == "credssp" and not self._winrm.transport.HAVE_CREDSSP:
            _require(ImportError("pywinrm found no CredSSP support"), "pywinrm[credssp]")
        self._settings = settings
        self._stats = stats
        self._protocol = None
        self._shell_id = None
        self.command_sent = False

    def _shell(self):
        if self._shell_id is None:
            self._protocol = self._winrm.protocol.Protocol(**self._settings.pywinrm_kwargs())
            _count_messages(self._protocol.transport, "send_message", self._stats)
            # UTF-8 console: the agent's JSON (and any non-ASCII VM name in it) survives the codepage.
            self._shell_id = self._protocol.open_shell(codepage=65001)
            self._stats.connects += 1
        return self._protocol, self._shell_id

    def open(self):
        self._shell()

    def run(self, request_json, timeout=None):
        self.command_sent = False
        deadline = None if timeout is None else time.monotonic() + timeout
        protocol, shell_id = self._shell()
        self.command_sent = True
        command_id = protocol.run_command(shell_id, "PowerShell", POWERSHELL_ARGUMENTS + [encoded_bootstrap()],
                                          console_mode_stdin=False)
        payload = winrs_stdin(request_json)
        for offset in range(0, len(payload), STDIN_CHUNK):
            protocol.send_command_input(shell_id, command_id, payload[offset:offset + STDIN_CHUNK],
                                        end=offset + STDIN_CHUNK >= len(payload))
        stdout, stderr = [], []
        done, rc = False, None
        while not done:
            if deadline is not None and time.monotonic() > deadline:
                _best_effort(protocol.cleanup_command, shell_id, command_id)  # terminates the process
                raise CallDeadlineExceeded(timeout)
            try:
                out, err, rc, done = protocol.get_command_output_raw(shell_id, command_id)
            except self._winrm.exceptions.WinRMOperationTimeoutError:
                continue  # no output within OperationTimeout: the op is still running, ask again
            stdout.append(out)
            stderr.append(err)
        protocol.cleanup_command(shell_id, command_id)
        return AgentOutput(stdout=b"".join(stdout).decode("utf-8", "replace"), stderr=clixml_to_text(b"".join(stderr)), rc=rc)

    def close(self):
        """Delete the shell on the host, then close the HTTP session."""
        try:
            if self._shell_id is not None:
                self._protocol.close_shell(self._shell_id)
        finally:
            self.discard()

    def discard(self):
        if self._protocol is not None:
            self._protocol.transport.close_session()
        self._protocol = self._shell_id = None
