# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HostClient: run agent ops on one Windows host over WinRM, and call_many() across hosts.

    with HostClient("hv01", module.params["winrm"], module.params["host_addresses"]) as host:
        facts = host.call("host_facts").result
        reply = host.call("file_write", {"path": path, "content": text}, check_mode=module.check_mode)

One HostClient holds one connection (a pypsrp RunspacePool, or a pywinrm cmd shell with
protocol: winrm), opened on the first call and reused, so a module's several calls to a host pay
the TLS/NTLM handshake once. Calls on one client are serialised; use one client per host (and
call_many) for parallelism.

Retries. A refused, lost or timed-out connection is retried on a fresh connection up to
winrm.operation_retries times, with a doubling pause, when re-sending is harmless: always if the
agent call never reached the host (the failure came while connecting), and otherwise only for the
read-only ops in READ_ONLY_OPS (or a call its caller marks retry_safe). A call that may have changed
state (a checkpoint, a disk connect, a SnapInfo write) is never re-sent blindly: it fails with a
message saying it may have run, and the engine, which knows how to check, decides.

A long-running op is not a failure: the host answers a pending Receive with an OperationTimeout
fault every winrm.operation_timeout seconds and the client polls again, until the op ends or the
optional `timeout` of call() expires.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.errors import excerpt, redact, translate
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.sessions import PsrpSession, WinrsSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.settings import ConnectionSettings

# Agent ops that only read. Re-sending one after a lost connection cannot change anything on the
# host, so these (and only these) are retried once the request may have reached the agent. An op
# missing here is merely not retried; an op wrongly listed here could run twice, so keep it short.
READ_ONLY_OPS = frozenset({"host_facts", "vm_inventory", "path_info", "file_read", "file_list", "checkpoint_list"})

_SESSIONS = {"psrp": PsrpSession, "winrm": WinrsSession}


@dataclasses.dataclass(frozen=True)
class AgentReply:
    """A successful agent answer: the op's `result`, whether it `changed` the host, and its `warnings`."""

    result: dict
    changed: bool = False
    warnings: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class HostStats:
    """Counters of one HostClient, for benchmarks and `timings`.

    round_trips counts WS-Management messages sent (each an HTTP request; the extra legs of an NTLM
    handshake are not counted), connects counts sessions opened (each costs a handshake and a
    RunspacePool or shell), retries counts calls re-sent, seconds is the time spent inside call().
    PSRP only: agent_scripts counts calls that sent the agent script (the first of each pool, and resends),
    agent_resends the short calls that found no agent of this version in the runspace and were sent again
    with the script (their messages count in round_trips too).
    """

    calls: int = 0
    round_trips: int = 0
    connects: int = 0
    retries: int = 0
    agent_scripts: int = 0
    agent_resends: int = 0
    seconds: float = 0.0

    def as_dict(self):
        return dataclasses.asdict(self)


class HostClient:
    """Agent calls to one Windows host; see the module docstring for connection reuse and retries."""

    # First pause before a retry, doubled for each further one.
    RETRY_DELAY = 1.0

    def __init__(self, name, winrm_options, host_addresses=None):
        self.name = name
        self.settings = ConnectionSettings.from_options(name, winrm_options, host_addresses)
        self.stats = HostStats()
        self._session = None
        self._lock = threading.Lock()

    def __repr__(self):
        return "HostClient(%r, endpoint=%r, protocol=%r, auth=%r)" % (self.name, self.settings.endpoint, self.settings.protocol,
                                                                      self.settings.auth)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def connect(self):
        """Open the connection now instead of at the first call, e.g. while waiting for another host: a pool's
        open costs the same 2 WinRM messages whenever it happens. Never raises: a connection that cannot be
        opened now is tried again, with the retries and the error reporting of call(), by the first call."""
        with self._lock:
            if self._session is not None:
                return
            session = _SESSIONS[self.settings.protocol](self.settings, self.stats)
            try:
                session.open()
            except Exception:  # pylint: disable=broad-except
                session.discard()
                return
            self._session = session

    def close(self):
        """Close the connection on the host if one is open. Never raises: the work is done by now."""
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                try:
                    session.close()
                except Exception:  # pylint: disable=broad-except
                    pass  # the host reaps an abandoned runspace or shell after its idle timeout

    def call(self, op, args=None, check_mode=False, timeout=None, retry_safe=None):
        """Run agent op `op` with `args` and return its AgentReply, or raise SmhvError.

        `timeout` (seconds) bounds the whole call, polling included; by default a call runs as long as
        the op does, since a VSS backup or a large file copy may legitimately take many minutes.
        `retry_safe` says whether the call may be re-sent after it may have reached the host; it defaults
        to `op in READ_ONLY_OPS`. An engine may set it for a write it knows to be idempotent (rewriting
        a SnapInfo record with the same content), or clear it for a read it must not repeat.
        """
        request = agent.encode_request(op, args or {}, check_mode)
        if retry_safe is None:
            retry_safe = op in READ_ONLY_OPS
        with self._lock:
            started = time.monotonic()
            self.stats.calls += 1
            try:
                output = self._run(op, request, timeout, retry_safe)
            finally:
                self.stats.seconds += time.monotonic() - started
        return self._reply(op, output)

    def _run(self, op, request, timeout, retry_safe):
        attempt = 0
        while True:
            if self._session is None:
                self._session = _SESSIONS[self.settings.protocol](self.settings, self.stats)
            session = self._session
            try:
                return session.run(request, timeout)
            except Exception as exc:  # pylint: disable=broad-except
                # Whatever went wrong, this connection is in an unknown state: the next attempt or call
                # starts a fresh one.
                self._session = None
                session.discard()
                failure = translate(exc, self.settings, op)
                if failure is None:
                    raise  # not a host failure but a bug: let it surface with its traceback
                resend_harmless = retry_safe or not session.command_sent
                if not failure.transient or not resend_harmless or attempt >= self.settings.operation_retries:
                    raise self._final_error(failure, op, resend_harmless, attempt) from exc
            attempt += 1
            self.stats.retries += 1
            time.sleep(self.RETRY_DELAY * 2 ** (attempt - 1))

    @staticmethod
    def _final_error(failure, op, resend_harmless, attempt):
        error = failure.error
        if not failure.transient:
            return error
        details = dict(error.details, attempts=attempt + 1)
        if resend_harmless:
            tries = " (gave up after %d attempts)" % (attempt + 1) if attempt else ""
            return SmhvError(error.code, error.message + tries, details)
        return SmhvError(error.code, "%s Agent op %s may have run on the host; it was not re-sent because it changes state. "
                         "Check the host's state before running it again." % (error.message, op), dict(details, may_have_run=True))

    def _reply(self, op, output):
        secrets = self.settings.secrets
        where = {"host": self.name, "address": self.settings.address, "port": self.settings.port, "op": op}
        try:
            document = agent.decode_response(output.stdout)
        except ValueError as exc:
            # The command was delivered and ran: the op may have acted before its answer was lost or garbled.
            details = dict(where, stdout=excerpt(redact(output.stdout, secrets)), stderr=excerpt(redact(output.stderr, secrets), 2000),
                           rc=output.rc, reason=excerpt(redact(exc, secrets), 500), may_have_run=True)
            raise SmhvError("HOST_PROTOCOL_ERROR", "Windows host %s (%s) sent no valid agent reply for op %s. Output: %r; errors: %r. "
                            "The agent could not run there (execution policy, constrained language mode, antivirus), crashed, or is "
                            "from another version of the collection." % (self.name, self.settings.endpoint, op, details["stdout"],
                                                                         excerpt(details["stderr"])), details) from None
        # decode_response() has checked the contract: ok true with changed/result/warnings, or an error with code and message.
        if document["ok"]:
            return AgentReply(result=document["result"], changed=bool(document["changed"]), warnings=list(document["warnings"]))
        error = document["error"]
        code = error["code"]
        if not code.replace("_", "").isalnum() or not code.isupper():
            code = "AGENT_ERROR"  # the agent's codes are upper-case constants; anything else is not one
        message = redact(error["message"] or "the agent reported an error without a message", secrets)
        details = dict(error["details"], **where)
        raise SmhvError(code, "%s (agent op %s on host %s)" % (message, op, self.name), details)


# Hosts called at once: the size of the largest Windows failover cluster, so every node of any cluster gets its call in
# one wave (a cap of 8 made a 16-node backup's node calls two waves, issue 20). The threads only wait on the network.
MAX_PARALLEL_HOSTS = 64


def call_many(clients, op, args_per_host=None, check_mode=False, max_workers=MAX_PARALLEL_HOSTS, timeout=None):
    """Call `op` on several hosts at once; return {host name: AgentReply or SmhvError}, in the clients' order.

    `clients` is a list of HostClient or a dict name -> HostClient; `args_per_host` maps a host name to
    its args (hosts not named get none). One host's failure never hides the others' results; pass the
    result to require_all() for all-or-nothing. Anything but SmhvError (a bug) propagates.
    """
    named = dict(clients) if isinstance(clients, dict) else {client.name: client for client in clients}
    if len(named) != len(clients):
        raise ValueError("two clients share a host name; results are keyed by it")
    args_per_host = args_per_host or {}
    strangers = sorted(set(args_per_host) - set(named))
    if strangers:
        raise ValueError("args_per_host names hosts without a client: %s" % ", ".join(strangers))

    def one(name):
        try:
            return named[name].call(op, args_per_host.get(name), check_mode, timeout=timeout)
        except SmhvError as error:
            return error

    if not named:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(named)))) as pool:
        outcomes = pool.map(one, list(named))
        return dict(zip(named, outcomes))


def require_all(results):
    """The replies of call_many() as {name: AgentReply}, or one SmhvError listing every host that failed.

    The error takes the first failure's code (so a playbook can still branch on it) and carries each
    failure's code, message and details in details["failures"].
    """
    failures = {name: outcome for name, outcome in results.items() if isinstance(outcome, SmhvError)}
    if not failures:
        return dict(results)
    first = next(iter(failures.values()))
    summary = "; ".join("%s: %s" % (name, error.message) for name, error in failures.items())
    details = {"failures": {name: {"code": error.code, "message": error.message, "details": error.details} for name, error in failures.items()},
               "succeeded": sorted(name for name in results if name not in failures)}
    raise SmhvError(first.code, "%d of %d hosts failed: %s" % (len(failures), len(results), summary), details)
