"""Asynchronous ONTAP jobs and how long they take.

An asynchronous call validates synchronously (bad input is an HTTP error), then hands its state
change to a job. The job runs for the duration its operation has on the cluster (`duration`) and
applies its change when that time has passed, at the first request to the cluster after it (a poll
of the job, a read of the object, anything): until then the job answers "running" and the object is
unchanged, as on ONTAP. A call with `return_timeout=N` is answered when its job ends or after N
seconds, whichever comes first (201/200 when it ended, else 202), which is how ONTAP spares a client
the polling (the server waits outside the world's lock). With `cluster.job_polls = N` a job also
answers "running" to its first N polls, for tests that need a job caught mid-way whatever the clock.
A failure (an `OntapError` from the change, or a `job_failure` fault, which skips the change) lands
in the job with an integer code; the HTTP reply stays 202/201/200.

Durations are per operation, `<family>.<verb>` ("snapshot.create", "volume.restore"), looked up in
the cluster's own `job_durations` (operation, then family, then "*"), then in its profile
(`job_profile`): "realistic" (the default, below) or "instant" (every job done at once). The lookup
is smhv_lab.timing's, which Hyper-V's checkpoint durations use too.
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..timing import Timing
from ..world.storage import OntapError, new_uuid, not_found, now
from .request import Request, Response, links

JOB_RETENTION = datetime.timedelta(seconds=300)  # ONTAP forgets finished jobs after 5 minutes
DONE = ("success", "failure")
MAX_RETURN_TIMEOUT = 120  # ONTAP refuses more: 'The value "600" is invalid for field "return_timeout" (<0..120>)'
INVALID_FIELD_VALUE = 262197

# Seconds per operation. Measured on ONTAP (NetApp/trident issue 1144, return_timeout=120, averages):
# a volume create 1.02 s, a volume PATCH (junction path) 0.53 s, an export-policy PATCH 0.17 s. The
# others are estimates by analogy, no public measurement being known: a snapshot or a LUN call is a
# smaller metadata change than a volume create, a SnapRestore, a consistency-group change or a CG
# snapshot (which fences writes on every member, for at most 7 s) is about as large, and a SnapMirror
# state change only starts the change (the transfer's own time is `transfer_polls`).
REALISTIC = {
    "*": 0.5,
    "volume.create": 1.0, "volume.modify": 0.5, "volume.delete": 1.0, "volume.restore": 1.0,
    "snapshot.create": 0.5, "snapshot.modify": 0.3, "snapshot.delete": 0.5,
    "consistency_group.create": 1.0, "consistency_group.delete": 0.5, "consistency_group.restore": 1.0,
    "cg_snapshot.create": 1.0, "cg_snapshot.delete": 0.5,
    "lun.create": 0.5, "lun.modify": 0.3, "lun.delete": 0.5,
    "snapmirror.create": 1.0, "snapmirror.modify": 1.0, "snapmirror.delete": 1.0,
    "snapmirror_transfer.create": 0.5, "snapmirror_transfer.modify": 0.5,
    "file_clone.create": 0.5,
}
PROFILES = {"realistic": REALISTIC, "instant": {"*": 0.0}}
DEFAULT_PROFILE = "realistic"
VERBS = {"POST": "create", "PATCH": "modify", "DELETE": "delete"}


@dataclass(eq=False)
class Job:
    description: str
    operation: str = ""
    uuid: str = field(default_factory=new_uuid)
    state: str = "queued"
    message: str = ""
    code: int = 0
    start_time: datetime.datetime = field(default_factory=now)
    end_time: datetime.datetime | None = None
    polls_left: int = 0
    action: Callable[[], Any] | None = None
    duration: float = 0.0
    due: float = 0.0  # time.monotonic() at which the change lands

    def run(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except OntapError as exc:
            self.finish("failure", exc.message, exc.code)
        else:
            self.finish("success", "success", 0)

    def finish(self, state: str, message: str, code: int) -> None:
        self.state, self.message, self.code, self.action = state, message, code, None
        self.end_time = self.start_time + datetime.timedelta(seconds=self.duration) if self.duration else now()

    @property
    def remaining(self) -> float:
        return max(0.0, self.due - time.monotonic())

    def settle(self) -> None:
        """Apply the change once the job's time has passed and it has been polled enough."""
        if self.action is not None and self.polls_left == 0 and self.remaining == 0:
            self.run(self.action)

    def poll(self) -> None:
        if self.polls_left > 0:
            self.polls_left -= 1
        else:
            self.settle()

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"uuid": self.uuid, "description": self.description, "state": self.state,
                               "message": self.message, "code": self.code,
                               "start_time": self.start_time.isoformat(timespec="seconds")}
        if self.state == "failure":
            rec["error"] = {"message": self.message, "code": str(self.code)}
        if self.end_time is not None:
            rec["end_time"] = self.end_time.isoformat(timespec="seconds")
        rec["_links"] = links(f"/api/cluster/jobs/{self.uuid}")
        return rec

    def __getstate__(self) -> dict[str, Any]:
        # A pending change is a closure over live objects: it cannot outlive the process.
        state = self.__dict__.copy()
        if state["action"] is not None:
            state.update(action=None, state="failure", message="The lab restarted before the job ran.", code=1,
                         end_time=now())
        return state


# -- durations ---------------------------------------------------------------------------------
TIMING = Timing("job", PROFILES, DEFAULT_PROFILE, profile_attr="job_profile", overrides_attr="job_durations")


def duration(cluster, operation: str) -> float:
    return TIMING.duration(cluster, operation)


def configure(cluster, profile: str | None = None, durations: dict[str, float] | None = None) -> dict[str, Any]:
    """Set a cluster's profile and per-operation durations (seconds; an operation, a family or "*");
    a new profile drops earlier durations. The topology and the control API call this."""
    return TIMING.configure(cluster, profile, durations)


def configure_world(world, settings: dict[str, Any]) -> dict[str, Any]:
    """The control API's POST /ontap-jobs: {cluster?, profile?, durations?}; no cluster means every one."""
    name = settings.get("cluster")
    if name is not None and name not in world.clusters:
        raise ValueError(f"no ONTAP cluster named {name!r}")
    for cluster in [world.clusters[name]] if name else world.clusters.values():
        configure(cluster, settings.get("profile"), settings.get("durations"))
    return {cluster.name: timing(cluster) for cluster in world.clusters.values()}


def timing(cluster) -> dict[str, Any]:
    return TIMING.timing(cluster)


def operation_of(request: Request, family: str) -> str:
    if request.method == "PATCH" and request.field("restore_to") is not None:
        return f"{family}.restore"
    return f"{family}.{VERBS.get(request.method, request.method.lower())}"


# -- the REST side -----------------------------------------------------------------------------
def return_timeout(request: Request) -> int:
    seconds = request.int_param("return_timeout", 0)
    if not 0 <= seconds <= MAX_RETURN_TIMEOUT:
        raise OntapError(f'The value "{seconds}" is invalid for field "return_timeout" (<0..{MAX_RETURN_TIMEOUT}>)',
                         INVALID_FIELD_VALUE, target="return_timeout")
    return seconds


def start(request: Request, action: Callable[[], Any], *, location: str | None = None,
          records: list[dict[str, Any]] | None = None) -> Response:
    """Run `action` as this request's job and answer the way ONTAP answers an asynchronous call."""
    cluster = request.cluster
    wait = return_timeout(request)
    expire(cluster)
    operation = operation_of(request, request.family)
    job = Job(f"{request.method} {request.path}", operation, duration=duration(cluster, operation))
    job.due = time.monotonic() + job.duration
    cluster.jobs[job.uuid] = job
    if request.job_fault is not None:
        params = request.job_fault.params
        action = _failing(str(params.get("message", "Injected job failure.")), int(params.get("code", 1)))
    job.state, job.action, job.polls_left = "running", action, cluster.job_polls
    job.settle()
    body: dict[str, Any] = {"job": {"uuid": job.uuid, "_links": links(f"/api/cluster/jobs/{job.uuid}")}}
    if records is not None and request.query.get("return_records", "").lower() == "true":
        body.update(num_records=len(records), records=records)
    reply = Response(202, body, {"Location": location} if location else {}, jobs=[job], return_timeout=wait)
    return finish_reply(reply, request.method)


def finish_reply(reply: Response, method: str) -> Response:
    """201 (POST) or 200 once every job of the call has ended within its return_timeout, else 202."""
    if reply.jobs and reply.return_timeout > 0 and all(job.state in DONE for job in reply.jobs):
        reply.status = 201 if method == "POST" else 200
    return reply


def wait_time(reply: Response) -> float:
    """How long the server holds this reply (outside the world's lock) before settling its jobs: until
    the last one is due, or the whole return_timeout when one waits for polls that cannot come."""
    pending = [job for job in reply.jobs if job.state not in DONE]
    if reply.return_timeout <= 0 or not pending:
        return 0.0
    if any(job.polls_left > 0 for job in pending):
        return float(reply.return_timeout)
    return min(max(job.remaining for job in pending), float(reply.return_timeout))


def _failing(message: str, code: int) -> Callable[[], Any]:
    def fail() -> None:
        raise OntapError(message, code)
    return fail


def settle_all(cluster) -> None:
    """Land every job whose time has come, in the order they started (before any request is served)."""
    for job in list(cluster.jobs.values()):
        job.settle()


def expire(cluster) -> None:
    cutoff = now() - JOB_RETENTION
    for uuid in [u for u, j in cluster.jobs.items() if j.end_time is not None and j.end_time < cutoff]:
        del cluster.jobs[uuid]


def lookup(cluster, uuid: str) -> Job:
    expire(cluster)
    if uuid not in cluster.jobs:
        raise not_found(f"job {uuid}")
    return cluster.jobs[uuid]
