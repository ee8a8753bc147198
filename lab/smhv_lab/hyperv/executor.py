"""AgentExecutor: the WinRM server's executor for simulated Hyper-V hosts.

It recognises the collection's agent the way a Windows host receives it, and nothing else:
- WinRS: `PowerShell ... -EncodedCommand <BOOTSTRAP_SCRIPT>` with `{"script": AGENT_SCRIPT, "request"}`
  and the sentinel line on stdin (read the way the bootstrap reads it: lines up to "\\0\\0\\0\\0");
- PSRP: one script command whose text is AGENT_SCRIPT, with its -Request parameter. Unless the client asked
  for a local scope, PowerShell runs it dot-sourced in the runspace's global scope, so the pool's runspace
  remembers the agent's entry function (ENTRY_FUNCTION, with this agent's hash); later pipelines of the same
  pool may then be that one command with -Request and -AgentSha. In a runspace where the script did not run,
  that command fails as PowerShell fails an unknown command (CommandNotFoundException); with another hash it
  answers AGENT_VERSION_MISMATCH, as the function does.
Scripts are recognised by SHA-256 against the collection's agent package (plugins/module_utils/agent, its
generated script.py) as loaded at start-up, so a lab running an older agent than the controller says so
instead of answering for code it does not have. Any other command
gets what Windows answers for an unknown one, and is logged in `unrecognised` for the control API.
"""
from __future__ import annotations

import collections
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from ..faults import FaultRegistry
from ..winrm import windows
from ..winrm.executor import CommandResult, PipelineCommand, PipelineResult, Runspace
from . import timing as hyperv_timing
from .agent_source import agent_path, digest, load_agent
from .context import AgentFailure, OpContext, argument, one_after_another
from .ops import OPS

PS_NOT_RECOGNIZED = ("The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable "
                     "program. Check the spelling of the name, or if a path was included, verify that the path is "
                     "correct and try again.")
_POWERSHELL = ("powershell", "powershell.exe")
_SENTINEL_LINE = "\0\0\0\0"
_LOG_SIZE = 500


class AgentExecutor:
    """Runs agent requests for every host of `world`; `faults` injects agent errors and delays."""

    def __init__(self, world, faults: FaultRegistry | None = None, agent_file: Path | str | None = None) -> None:
        self.world = world
        self.faults = faults or FaultRegistry()
        self.agent_file = Path(agent_file or agent_path())
        self.agent = load_agent(self.agent_file)
        self._agent_digest = digest(self.agent.AGENT_SCRIPT)
        self._agent_sha = str(getattr(self.agent, "AGENT_SHA", ""))  # what its Invoke-SmhvAgent compares with
        self._bootstrap_digest = digest(self.agent.BOOTSTRAP_SCRIPT)
        # Hyper-V jobs its agent runs at once on a host; an agent from before CHECKPOINT_JOBS ran one after another.
        self._agent_jobs = int(getattr(self.agent, "CHECKPOINT_JOBS", 1))
        self._stopping = threading.Event()
        self.slots = hyperv_timing.HostSlots()  # checkpoint operations each host is running
        self._log_lock = threading.Lock()
        # What the control API shows: commands this lab does not simulate, and the agent requests it ran.
        self.unrecognised: collections.deque[dict[str, Any]] = collections.deque(maxlen=_LOG_SIZE)
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=_LOG_SIZE)

    def close(self) -> None:
        """Release ops blocked by an injected agent timeout (lab shutdown)."""
        self._stopping.set()

    def clear_logs(self) -> None:
        with self._log_lock:
            self.unrecognised.clear()
            self.requests.clear()

    # -- WinRS ----------------------------------------------------------------------------------
    def run_command(self, host: str, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        line = windows.command_line(command, arguments)
        program = (line.split() or [""])[0].strip('"').replace("/", "\\").rpartition("\\")[2].lower()
        if program not in _POWERSHELL:
            self._log_unrecognised(host, "winrs", "not a program this lab simulates", line)
            return windows.not_recognized(line)
        script = windows.encoded_script(line)
        if script is None:
            # -Command / -File / a script block: PowerShell would run it; this lab does not.
            words = [w for w in line.split()[1:] if not w.startswith(("-", "/"))]
            self._log_unrecognised(host, "winrs", "PowerShell without the agent's bootstrap", line)
            return CommandResult(stderr=windows.clixml_error(PS_NOT_RECOGNIZED.format(words[0] if words else line)),
                                 rc=1)
        if digest(script) != self._bootstrap_digest:
            self._log_unrecognised(host, "winrs", "-EncodedCommand is not the agent's bootstrap", script)
            return self._powershell_error(self._first_word(script))
        payload, problem = self._bootstrap_payload(stdin)
        if problem:
            self._log_unrecognised(host, "winrs", problem, stdin[:200].decode("ascii", "replace"))
            return CommandResult(stderr=windows.clixml_error(problem), rc=1)
        answer = self._answer(host, "winrs", payload["request"])
        if answer is None:  # injected drop: the agent process died before it wrote its answer
            return CommandResult(rc=1)
        return CommandResult(stdout=(answer + "\r\n").encode("ascii"), rc=0)

    def _bootstrap_payload(self, stdin: bytes) -> tuple[dict[str, Any], str]:
        """What BOOTSTRAP_SCRIPT does with stdin: lines up to the sentinel, one JSON document."""
        lines = []
        for line in re.split(r"\r\n|\r|\n", stdin.decode("utf-8", errors="replace")):
            if line == _SENTINEL_LINE:
                break
            lines.append(line)
        try:
            payload = json.loads("\n".join(lines))
        except ValueError as error:
            return {}, f"ConvertFrom-Json : Invalid JSON primitive: {error}"
        if not isinstance(payload, dict) or not isinstance(payload.get("script"), str):
            return {}, "Exception calling \"Create\" with \"1\" argument(s): the payload has no script"
        if digest(payload["script"]) != self._agent_digest:
            return {}, self._stale_agent_message()
        if not isinstance(payload.get("request"), str):
            return {}, "Cannot bind argument to parameter 'Request' because it is null."
        return payload, ""

    # -- PSRP -----------------------------------------------------------------------------------
    def run_pipeline(self, host: str, commands: list[PipelineCommand], input_objects: list[Any],
                     runspace: Runspace | None = None) -> PipelineResult:
        runspace = runspace if runspace is not None else Runspace()  # a pipeline alone: a fresh runspace
        first = commands[0] if commands else PipelineCommand("", True)
        if len(commands) == 1 and not first.is_script and first.text.lower() in runspace.functions:
            return self._entry_call(host, first, runspace.functions[first.text.lower()])
        if len(commands) != 1 or not first.is_script or digest(first.text) != self._agent_digest:
            text = first.text if first.is_script else dict(first.parameters).get("Command", first.text)
            if first.is_script and first.text.lstrip().lower().startswith("param([parameter(mandatory)][string]$request)"):
                self._log_unrecognised(host, "psrp", "an agent this lab did not load", first.text)
                return PipelineResult(failed=True, reason=self._stale_agent_message())
            self._log_unrecognised(host, "psrp", "not the agent", str(text))
            if not first.is_script:  # a command PowerShell cannot resolve fails the pipeline with this record
                return self._command_not_found(self._first_word(str(text)))
            return PipelineResult(failed=True, reason=PS_NOT_RECOGNIZED.format(self._first_word(str(text))))
        request = None
        for name, value in first.parameters:
            if name is None or name.lower() == "request":
                request = value
            else:
                return PipelineResult(failed=True, reason=f"A parameter cannot be found that matches parameter name '{name}'.")
        if request is None:
            return PipelineResult(failed=True, reason="Cannot process command because of one or more missing mandatory "
                                                      "parameters: Request.")
        entry = getattr(self.agent, "ENTRY_FUNCTION", None)
        if entry and first.use_local_scope is not True:
            # Dot-sourced: the script's function definitions run before its last line calls the entry function.
            runspace.functions[entry.lower()] = self._agent_sha
        return self._pipeline_answer(host, str(request))

    def _pipeline_answer(self, host: str, request: str) -> PipelineResult:
        answer = self._answer(host, "psrp", request)
        if answer is None:
            return PipelineResult(failed=True, reason="The pipeline has been stopped.")
        return PipelineResult(output=[answer])

    def _entry_call(self, host: str, command: PipelineCommand, defined_sha: str) -> PipelineResult:
        """`Invoke-SmhvAgent -Request <json> -AgentSha <hash>` in a runspace where the agent `defined_sha` ran."""
        bound: dict[str, Any] = {}
        positions = ["request", "agentsha"]
        for name, value in command.parameters:
            key = positions.pop(0) if name is None and positions else (name or "").lower()
            if key not in ("request", "agentsha"):
                return PipelineResult(failed=True, reason=f"A parameter cannot be found that matches parameter name '{name}'.",
                                      error_id=f"NamedParameterNotFound,{command.text}", category="InvalidArgument")
            if key in positions:
                positions.remove(key)
            bound[key] = value
        missing = [label for key, label in (("request", "Request"), ("agentsha", "AgentSha")) if not bound.get(key)]
        if missing:
            return PipelineResult(failed=True, reason="Cannot process command because of one or more missing mandatory "
                                                      f"parameters: {' '.join(missing)}.",
                                  error_id=f"MissingMandatoryParameter,{command.text}", category="InvalidArgument")
        if str(bound["agentsha"]) != defined_sha:
            # Invoke-SmhvAgent's first check, before it reads the request.
            return PipelineResult(output=[json.dumps({"ok": False, "error": {
                "code": "AGENT_VERSION_MISMATCH", "message": "The agent defined in this runspace is another version.",
                "details": {"agent_sha": defined_sha}}}, separators=(",", ":"))])
        return self._pipeline_answer(host, str(bound["request"]))

    @staticmethod
    def _command_not_found(name: str) -> PipelineResult:
        return PipelineResult(failed=True, reason=PS_NOT_RECOGNIZED.format(name), error_id="CommandNotFoundException",
                              category="ObjectNotFound", target=name)

    # -- the agent ------------------------------------------------------------------------------
    def run_request(self, host: str, request_json: str) -> dict[str, Any]:
        """One agent request, in-process: the answer document the agent would print."""
        return json.loads(self._answer(host, "direct", request_json) or "null")

    def _answer(self, host: str, transport: str, request_json: str) -> str | None:
        started, waited = time.monotonic(), [0.0]
        op = self._peek_op(request_json)
        rule = self.faults.hit("agent", op=op, host=host)  # a "delay" rule has already slept
        if rule is not None and rule.kind == "timeout":
            self._stopping.wait(float(rule.params.get("seconds", 3600)))
        if rule is not None and rule.kind == "agent_error":
            response = {"ok": False, "error": {"code": str(rule.params.get("code", "AGENT_ERROR")),
                                               "message": str(rule.params.get("message", "Injected agent error.")),
                                               "details": {"op": op, "injected": True}}}
        else:
            response = self._dispatch(host, request_json, waited)
        with self._log_lock:
            self.requests.append({"time": time.time(), "host": host, "transport": transport, "op": op,
                                  "ok": response["ok"], "code": None if response["ok"] else response["error"]["code"],
                                  "seconds": round(time.monotonic() - started, 4), "lock_wait": round(waited[0], 4)})
        if rule is not None and rule.kind == "drop":
            return None
        # Like ConvertTo-SmhvJson: compact and ASCII-only.
        return json.dumps(response, ensure_ascii=True, separators=(",", ":"))

    def _dispatch(self, host_name: str, request_json: str, waited: list[float] | None = None) -> dict[str, Any]:
        """The op's answer; `waited` gets the seconds it waited for the world's lock."""
        waited = [0.0] if waited is None else waited
        op = ""
        try:
            request = self._parse_request(request_json)
            op = request["op"]
            implementation = OPS.get(op)
            if implementation is None:
                raise AgentFailure("UNKNOWN_OP", f"Unknown op '{op}'.", {"op": op})
            self._acquire_world(waited)
            try:
                ctx = OpContext(self.world, self.world.host(host_name), self.agent, request["check_mode"],
                                jobs=lambda host, operation, items, land, group: self._run_jobs(host, operation, items, land, group, waited))
                result, changed = implementation(ctx, request["args"])
            finally:
                self.world.lock.release()
            return {"ok": True, "changed": bool(changed), "result": result, "warnings": ctx.warnings}
        except AgentFailure as failure:
            return {"ok": False, "error": {"code": failure.code, "message": failure.message, "details": failure.details}}
        except Exception as error:  # what the agent's catch-all answers for an unexpected exception
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            return {"ok": False, "error": {"code": "AGENT_ERROR", "message": str(message) or type(error).__name__,
                                           "details": {"op": op, "exception_type": type(error).__name__,
                                                       "line": None, "command": None}}}

    def _acquire_world(self, waited: list[float]) -> None:
        asked = time.monotonic()
        self.world.lock.acquire()
        waited[0] += time.monotonic() - asked

    def _run_jobs(self, host, operation: str, items: list[Any], land, group, waited: list[float]) -> list[tuple[Any, Any]]:
        """The agent's Hyper-V jobs (agent/checkpoint_jobs.ps1): it starts at most CHECKPOINT_JOBS at once, the next
        as one ends, never two of one `group` (a VM) at once; each job waits for one of the host's slots (Hyper-V
        runs at most its concurrency, the rest queue), spends its time there outside the world's lock, then lands
        its change under the lock. The op's lock is let go meanwhile and taken back before the answer."""
        seconds = hyperv_timing.duration(host, operation)
        if seconds <= 0:  # instant: the same outcomes as one job after another, and no threads
            return one_after_another(items, land)
        limit = hyperv_timing.concurrency(host)
        outcomes: list[tuple[Any, Any]] = [(None, None)] * len(items)
        pending = list(range(len(items)))
        busy: set[Any] = set()
        turn = threading.Condition()

        def next_item():
            with turn:
                while True:
                    free = [index for index in pending if group is None or group(items[index]) not in busy]
                    if free or not pending:
                        break
                    turn.wait()
                if not free:
                    return None
                pending.remove(free[0])
                if group is not None:
                    busy.add(group(items[free[0]]))
                return free[0]

        def agent_job_slot():
            while (index := next_item()) is not None:
                try:
                    with self.slots.held(host.name, limit):
                        self._stopping.wait(seconds)
                    self._acquire_world(waited)
                    try:
                        outcomes[index] = (land(items[index]), None)
                    except Exception as error:  # the op decides which errors are the VM's own
                        outcomes[index] = (None, error)
                    finally:
                        self.world.lock.release()
                finally:
                    with turn:
                        busy.discard(None if group is None else group(items[index]))
                        turn.notify_all()

        workers = [threading.Thread(target=agent_job_slot, name=f"hyperv-job-{host.name}-{number}", daemon=True)
                   for number in range(min(self._agent_jobs, len(items)))]
        self.world.lock.release()
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        finally:
            self._acquire_world(waited)
        return outcomes

    @staticmethod
    def _parse_request(request_json: str) -> dict[str, Any]:
        """ConvertFrom-SmhvRequest."""
        try:
            document = json.loads(request_json)
        except ValueError as error:
            raise AgentFailure("BAD_REQUEST", f"The request is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise AgentFailure("BAD_REQUEST", "The request must be a JSON object with op, args and check_mode.")
        op = argument(document, "op", "String", required=True)
        args = document.get("args")
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            raise AgentFailure("BAD_REQUEST", "Argument 'args' must be a JSON object.", {"argument": "args"})
        return {"op": op, "args": args, "check_mode": argument(document, "check_mode", "Boolean", False)}

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _peek_op(request_json: str) -> str:
        try:
            op = json.loads(request_json).get("op", "")
        except (ValueError, AttributeError):
            return ""
        return op if isinstance(op, str) else ""

    @staticmethod
    def _first_word(script: str) -> str:
        words = script.split()
        return words[0] if words else script

    @staticmethod
    def _powershell_error(word: str) -> CommandResult:
        return CommandResult(stderr=windows.clixml_error(PS_NOT_RECOGNIZED.format(word)), rc=1)

    def _stale_agent_message(self) -> str:
        return (f"This lab host runs the netapp_hyperv.smhv agent loaded from {self.agent_file}, and the script "
                "sent is a different version of it. Restart the lab (smhv-lab down/up) after changing agent/*.ps1 "
                "and running `make agent`, or point SMHV_AGENT_PATH at the agent package of the collection the "
                "controller uses.")

    def _log_unrecognised(self, host: str, transport: str, reason: str, text: str) -> None:
        with self._log_lock:
            self.unrecognised.append({"time": time.time(), "host": host, "transport": transport, "reason": reason,
                                      "command": text[:500]})
