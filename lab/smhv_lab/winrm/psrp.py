"""The PowerShell Remoting shell (resource .../powershell/Microsoft.PowerShell) on psrpcore.

The shell is a psrpcore `ServerRunspacePool`. WS-Man only carries its fragments: Create brings the
session capability and InitRunspacePool in creationXml, Command brings the first CreatePipeline
fragment for the pipeline whose id is the CommandId, Send the rest and the pipeline input, and
Receive returns whatever the pool has queued for the pool itself (no CommandId) or for one pipeline.
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict, deque
from typing import Any

import psrpcore
from psrpcore.types import ErrorCategory, ErrorCategoryInfo, ErrorRecord, NETException, PSInvocationState

from . import soap
from .executor import PipelineCommand, PipelineResult, Runspace
from .shells import DONE, RUNNING, Shell, ShellContext, client_id, decode_b64, new_id, output_budget, stream_xml
from .soap import Request

log = logging.getLogger(__name__)

_CREATION_XML = "{http://schemas.microsoft.com/powershell}creationXml"
_FINISHED = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


class _Pipeline:
    def __init__(self, pool: psrpcore.ServerRunspacePool, command_id: str):
        # psrpcore 0.3.1 needs the pipeline to exist before its CreatePipeline fragment is fed.
        self.pipe = psrpcore.ServerPipeline(pool, uuid.UUID(command_id))
        self.command_id = command_id
        self.input: list[Any] = []
        self.started = False


def _terminating_error(result: PipelineResult) -> ErrorRecord:
    return ErrorRecord(Exception=NETException(Message=result.reason or "failed"), TargetObject=result.target,
                       CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory[result.category], Reason=result.error_id,
                                                      TargetName=result.target or "",
                                                      TargetType="String" if result.target is not None else ""),
                       FullyQualifiedErrorId=result.error_id)


class PsrpShell(Shell):
    input_streams = "stdin pr"
    output_streams = "stdout"

    def __init__(self, request: Request, context: ShellContext):
        shell = request.find("rsp:Shell")
        creation = shell.find(_CREATION_XML) if shell is not None else None
        if shell is None or creation is None:
            raise soap.invalid_request("a PowerShell shell needs rsp:Shell with creationXml")
        # pypsrp names the shell after its runspace pool id and expects that id back.
        super().__init__(client_id(shell.get("ShellId")) if shell.get("ShellId") else new_id(), request.resource_uri,
                         context)
        self.pool = psrpcore.ServerRunspacePool()
        self.runspace = Runspace()  # what the pool's pipelines leave defined for the later ones
        self._pipelines: dict[str, _Pipeline] = {}
        # psrpcore queues output for every target in one buffer; Receive wants one target's data.
        self._outboxes: dict[str | None, deque[bytes]] = defaultdict(deque)
        self._feed(decode_b64(creation.text), None)  # no lock needed: nobody else can see the shell yet

    def command(self, request: Request) -> str:
        line = request.find("rsp:CommandLine")
        if line is None:
            raise soap.invalid_request("rsp:CommandLine is missing")
        command_id = client_id(line.get("CommandId")) if line.get("CommandId") else new_id()
        with self.cond:
            pipeline = self._pipelines[command_id] = _Pipeline(self.pool, command_id)
            for argument in line.findall("rsp:Arguments", soap.NS):
                self._feed(decode_b64(argument.text), pipeline.pipe.pipeline_id)
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def send(self, request: Request) -> str:
        for stream in request.findall("rsp:Send/rsp:Stream"):
            data = decode_b64(stream.text)
            # "pr" carries host prompt responses; everything else is the default stream.
            is_prompt = stream.get("Name") == "pr"
            stream_type = psrpcore.StreamType.prompt_response if is_prompt else psrpcore.StreamType.default
            with self.cond:
                target = self._pipeline(stream.get("CommandId")).pipe.pipeline_id if stream.get("CommandId") else None
                self._feed(data, target, stream_type)
        return "<rsp:SendResponse/>"

    def receive(self, request: Request) -> str:
        desired = request.find("rsp:Receive/rsp:DesiredStream")
        if desired is None:
            raise soap.invalid_request("rsp:DesiredStream is missing")
        command_id = client_id(desired.get("CommandId")) if desired.get("CommandId") else None
        budget = output_budget(request.max_envelope_size)
        deadline = self.context.receive_deadline(request)
        with self.cond:
            while True:
                pipeline = self._pipeline(command_id) if command_id else None
                self._route(budget)
                if self._outboxes[command_id]:
                    break
                self.wait(deadline)
            outbox, chunks, size = self._outboxes[command_id], [], 0
            while outbox and (not chunks or size + len(outbox[0]) <= budget):
                chunks.append(outbox.popleft())
                size += len(chunks[-1])
            parts = [stream_xml("stdout", chunk, command_id) for chunk in chunks]
            if pipeline is not None:
                # pypsrp follows the PSRP PipelineState, but a WinRS-style CommandState keeps the reply familiar.
                if pipeline.pipe.state in _FINISHED and not outbox:
                    parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{DONE}">'
                                 "<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>")
                else:
                    parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{RUNNING}"/>')
        return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"

    def signal(self, request: Request) -> str:
        signal = request.find("rsp:Signal")
        if signal is None:
            raise soap.invalid_request("rsp:Signal is missing")
        with self.cond:
            # Terminate (PowerShell.close) and the PowerShell ctrl_c (PowerShell.stop) both end the pipeline.
            pipeline = self._pipeline(signal.get("CommandId"))
            if pipeline.pipe.state == PSInvocationState.Running:
                pipeline.pipe.stop()
            pipeline.pipe.close()
            del self._pipelines[pipeline.command_id]
            self._outboxes.pop(pipeline.command_id, None)
            self.cond.notify_all()
        return "<rsp:SignalResponse/>"

    def _pipeline(self, command_id: str | None) -> _Pipeline:
        pipeline = self._pipelines.get((command_id or "").upper())
        if pipeline is None:
            raise soap.command_not_found(command_id or "(none)")
        return pipeline

    def _feed(self, data: bytes, pipeline_id: uuid.UUID | None,
              stream_type: psrpcore.StreamType = psrpcore.StreamType.default) -> None:
        """Give psrpcore the client's fragments and act on the messages they complete (cond held)."""
        self.pool.receive_data(psrpcore.PSRPPayload(data, stream_type, pipeline_id))
        try:
            while (event := self.pool.next_event()) is not None:
                self._on_event(event)
        except psrpcore.PSRPCoreError as exc:
            raise soap.invalid_request(f"bad PSRP data: {exc}") from None

    def _on_event(self, event: psrpcore.PSRPEvent) -> None:
        if isinstance(event, psrpcore.CreatePipelineEvent):
            if event.pipeline.no_input:
                self._start(self._pipeline(str(event.pipeline_id)))
        elif isinstance(event, psrpcore.PipelineInputEvent):
            self._pipeline(str(event.pipeline_id)).input.append(event.data)
        elif isinstance(event, psrpcore.EndOfPipelineInputEvent):
            self._start(self._pipeline(str(event.pipeline_id)))
        elif isinstance(event, (psrpcore.SetMaxRunspacesEvent, psrpcore.SetMinRunspacesEvent,
                                psrpcore.ResetRunspaceStateEvent)):
            self.pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, self.pool.max_runspaces)
        # Session capability, InitRunspacePool and key exchange are answered by psrpcore itself.

    def _start(self, pipeline: _Pipeline) -> None:
        if pipeline.started:
            return
        pipeline.started = True
        pipeline.pipe.start()
        commands = [PipelineCommand(str(c.command_text), bool(c.is_script), list(c.parameters), c.use_local_scope)
                    for c in pipeline.pipe.metadata.commands]
        self.context.workers.start(f"psrp-{pipeline.command_id[:8]}", self._run, pipeline, commands)

    def _run(self, pipeline: _Pipeline, commands: list[PipelineCommand]) -> None:
        try:
            result = self.context.executor.run_pipeline(self.context.host_name, commands, list(pipeline.input),
                                                        runspace=self.runspace)
        except Exception as exc:  # an executor bug becomes a failed pipeline the client can see
            log.exception("executor failed on pipeline %s", pipeline.command_id)
            result = PipelineResult(failed=True, reason=f"{type(exc).__name__}: {exc}")
        with self.cond:
            signalled = self._pipelines.get(pipeline.command_id) is not pipeline
            if signalled or pipeline.pipe.state != PSInvocationState.Running:
                return  # stopped, terminated or the shell deleted while the executor ran
            try:
                for value in result.output:
                    pipeline.pipe.write_output(value)
            except Exception as exc:  # psrpcore cannot serialise the value
                result = PipelineResult(failed=True, reason=f"cannot serialise pipeline output: {exc}")
            for message in result.errors:  # what Write-Error produces
                pipeline.pipe.write_error(NETException(Message=message),
                                          ErrorCategoryInfo(Reason="WriteErrorException"),
                                          fully_qualified_error_id="Microsoft.PowerShell.Commands.WriteErrorException")
            if result.failed:
                # psrpcore has no public way to fail a pipeline; a Failed PipelineState carrying the
                # terminating error is what PowerShell sends, and what makes pypsrp set had_errors.
                pipeline.pipe._change_state(PSInvocationState.Failed, _terminating_error(result))
            else:
                pipeline.pipe.complete()
            self.cond.notify_all()

    def _route(self, budget: int) -> None:
        """Move everything psrpcore has queued into per-target outboxes, in fragments of `budget` bytes."""
        while (payload := self.pool.data_to_send(budget)) is not None:
            target = str(payload.pipeline_id).upper() if payload.pipeline_id else None
            self._outboxes[target].append(payload.data)

    def close(self) -> None:
        with self.cond:
            self._pipelines.clear()
            self._outboxes.clear()
            self.cond.notify_all()
