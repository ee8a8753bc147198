"""In-process stand-ins for the library boundary of winhost: pypsrp's WSMan/RunspacePool/PowerShell and
pywinrm's Protocol. Each fake "sends" one WS-Management message per operation through its transport,
as the real ones do, so HostClient's round-trip counting is exercised too.

A pipeline or command is scripted as a list of steps, one per poll of the host:
    None          still running (the host answered the OperationTimeout fault)
    Exception     raised by that poll (a dropped connection, a fault...)
    "text"        the op finished and wrote this to its output
    Failed(...)   PowerShell failed the pipeline with these error records (e.g. command_not_found())
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import winrm.protocol
from pypsrp.complex_objects import PSInvocationState
from winrm.exceptions import WinRMOperationTimeoutError

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import client as winhost

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import sessions as winhost_sessions

PASSWORD = "Sup3r-secret"


class Transport:
    """The library transport: counts messages the way the real one carries them."""

    def __init__(self):
        self.sent = []
        self.closed = False

    def send(self, message="", **_):
        self.sent.append(message)
        return b""

    send_message = send

    def close(self):
        self.closed = True

    close_session = close


class Script:
    """What the host does for successive agent calls: a list of step lists, one per call."""

    def __init__(self):
        self.calls = []
        self.open_failures = []  # exceptions raised by successive connection opens, then success

    def next_call(self):
        if not self.calls:
            raise AssertionError("the test scripted fewer agent calls than were made")
        return list(self.calls.pop(0))


class ErrorRecord(SimpleNamespace):
    """pypsrp's ErrorRecord as far as winhost reads it: fq_error and its text."""

    def __str__(self):
        return self.message


class Failed(tuple):
    """A step: the pipeline ends in the Failed state with these error records."""


def command_not_found(name="Invoke-SmhvAgent"):
    message = ("The term '%s' is not recognized as the name of a cmdlet, function, script file, or operable program. "
               "Check the spelling of the name, or if a path was included, verify that the path is correct and try again." % name)
    return Failed([ErrorRecord(fq_error="CommandNotFoundException", reason="CommandNotFoundException", message=message)])


class FakePowerShell:
    def __init__(self, pool, script):
        self.pool = pool
        self._steps = script.next_call()
        self.script = None
        self.use_local_scope = None
        self.command = None  # add_cmdlet's name
        self.parameters = []
        self.state = PSInvocationState.NOT_STARTED
        self.output = []
        self.streams = SimpleNamespace(error=[])
        self.polls = 0
        self.stopped = False

    def add_script(self, text, use_local_scope=None):
        self.script = text
        self.use_local_scope = use_local_scope
        return self

    def add_cmdlet(self, name):
        self.command = name
        return self

    def add_parameter(self, name, value):
        self.parameters.append((name, value))
        return self

    def begin_invoke(self):
        self.pool.wsman.transport.send("Command")
        self.state = PSInvocationState.RUNNING

    def poll_invoke(self):
        self.polls += 1
        self.pool.wsman.transport.send("Receive")
        step = self._steps.pop(0) if self._steps else None
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, str):
            self.output.append(step)
            self.state = PSInvocationState.COMPLETED
        elif isinstance(step, Failed):
            self.streams.error.extend(step)
            self.state = PSInvocationState.FAILED
        elif isinstance(step, tuple):  # (output, error records)
            self.output.extend(step[0])
            self.streams.error.extend(step[1])
            self.state = PSInvocationState.COMPLETED

    def stop(self):
        self.stopped = True


class FakePsrp:
    """Patches winhost_sessions' WSMan, RunspacePool and PowerShell; records every instance."""

    def __init__(self, monkeypatch):
        self.script = Script()
        self.wsmans, self.pools, self.pipelines = [], [], []
        monkeypatch.setattr(winhost_sessions, "WSMan", self._wsman)
        monkeypatch.setattr(winhost_sessions, "RunspacePool", self._pool)
        monkeypatch.setattr(winhost_sessions, "PowerShell", self._powershell)

    def _wsman(self, **kwargs):
        wsman = SimpleNamespace(kwargs=kwargs, transport=Transport())
        wsman.close = wsman.transport.close
        self.wsmans.append(wsman)
        return wsman

    def _pool(self, wsman):
        pool = SimpleNamespace(wsman=wsman, opened=False, closed=False)

        def open_pool():
            wsman.transport.send("Create")
            if self.script.open_failures:
                raise self.script.open_failures.pop(0)
            wsman.transport.send("Receive")
            pool.opened = True

        def close_pool():
            wsman.transport.send("Delete")
            pool.closed = True

        pool.open, pool.close = open_pool, close_pool
        self.pools.append(pool)
        return pool

    def _powershell(self, pool):
        pipeline = FakePowerShell(pool, self.script)
        self.pipelines.append(pipeline)
        return pipeline


class FakeProtocol:
    """pywinrm's Protocol, for one shell; `fake` is the FakeWinrm that made it."""

    def __init__(self, fake, **kwargs):
        self.fake = fake
        self.kwargs = kwargs
        self.transport = Transport()
        self.shells, self.commands, self.inputs, self.cleaned, self.closed_shells = [], [], [], [], []
        self._steps = []

    def open_shell(self, **kwargs):
        self.transport.send_message("Create")
        if self.fake.script.open_failures:
            raise self.fake.script.open_failures.pop(0)
        self.shells.append(kwargs)
        return "SHELL-%d" % len(self.shells)

    def run_command(self, shell_id, command, arguments=(), **kwargs):
        self.transport.send_message("Command")
        self.commands.append((shell_id, command, list(arguments), kwargs))
        self._steps = self.fake.script.next_call()
        return "COMMAND-%d" % len(self.commands)

    def send_command_input(self, shell_id, command_id, stdin_input, end=False):
        self.transport.send_message("Send")
        self.inputs.append((command_id, stdin_input, end))

    def get_command_output_raw(self, shell_id, command_id):
        self.transport.send_message("Receive")
        step = self._steps.pop(0) if self._steps else WinRMOperationTimeoutError()
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, str):
            return step.encode() + b"\r\n", b"", 0, True
        return step  # (stdout, stderr, rc, done)

    def cleanup_command(self, shell_id, command_id):
        self.transport.send_message("Signal")
        self.cleaned.append(command_id)

    def close_shell(self, shell_id):
        self.transport.send_message("Delete")
        self.closed_shells.append(shell_id)
        self.transport.close_session()


class FakeWinrm:
    def __init__(self, monkeypatch):
        self.script = Script()
        self.protocols = []
        monkeypatch.setattr(winrm.protocol, "Protocol", self._protocol)

    def _protocol(self, **kwargs):
        protocol = FakeProtocol(self, **kwargs)
        self.protocols.append(protocol)
        return protocol


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch):
    """Retries pause RETRY_DELAY * 2**n seconds; record the pauses instead of sleeping them."""
    pauses = []
    monkeypatch.setattr(winhost, "time", SimpleNamespace(monotonic=time.monotonic, sleep=pauses.append))
    return pauses


@pytest.fixture
def psrp(monkeypatch):
    return FakePsrp(monkeypatch)


@pytest.fixture
def winrs(monkeypatch):
    return FakeWinrm(monkeypatch)


@pytest.fixture
def secret():
    return PASSWORD


@pytest.fixture
def make_client():
    def make(protocol="psrp", **options):
        options.setdefault("username", "CORP\\svc")
        options.setdefault("password", PASSWORD)
        options.setdefault("auth", "ntlm")
        return winhost.HostClient("hv01", dict(protocol=protocol, **options), {"hv01": "10.0.0.1"})
    return make
