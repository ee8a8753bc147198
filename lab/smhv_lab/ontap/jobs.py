"""Asynchronous ONTAP jobs.

An asynchronous call validates synchronously (bad input is an HTTP error), then hands its state
change to a job. By default the job runs at once, so the first poll already reads `success` and
neither netapp-ontap nor the Ansible collection ever sleeps. With `cluster.job_polls = N` the job
answers "running" to N polls and applies its change on the next one, the way a client that polls
sees a slow cluster. A failure (an `OntapError` from the change, or a `job_failure` fault, which
skips the change) lands in the job with an integer code; the HTTP reply stays 202/201/200.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Callable

from ..world.storage import OntapError, new_uuid, not_found, now
from .request import Request, Response, links

JOB_RETENTION = datetime.timedelta(seconds=300)  # ONTAP forgets finished jobs after 5 minutes
DONE = ("success", "failure")


@dataclass(eq=False)
class Job:
    description: str
    uuid: str = field(default_factory=new_uuid)
    state: str = "queued"
    message: str = ""
    code: int = 0
    start_time: datetime.datetime = field(default_factory=now)
    end_time: datetime.datetime | None = None
    polls_left: int = 0
    action: Callable[[], Any] | None = None

    def run(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except OntapError as exc:
            self.finish("failure", exc.message, exc.code)
        else:
            self.finish("success", "success", 0)

    def finish(self, state: str, message: str, code: int) -> None:
        self.state, self.message, self.code, self.end_time, self.action = state, message, code, now(), None

    def poll(self) -> None:
        if self.polls_left > 0:
            self.polls_left -= 1
        elif self.action is not None:
            self.run(self.action)

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


def start(request: Request, action: Callable[[], Any], *, location: str | None = None,
          records: list[dict[str, Any]] | None = None) -> Response:
    """Run `action` as this request's job and answer the way ONTAP answers an asynchronous call."""
    cluster = request.cluster
    expire(cluster)
    job = Job(f"{request.method} {request.path}")
    cluster.jobs[job.uuid] = job
    if request.job_fault is not None:
        params = request.job_fault.params
        job.finish("failure", str(params.get("message", "Injected job failure.")), int(params.get("code", 1)))
    elif cluster.job_polls > 0:
        job.state, job.action, job.polls_left = "running", action, cluster.job_polls
    else:
        job.run(action)
    done_in_time = job.state in DONE and request.int_param("return_timeout", 0) > 0
    status = (201 if request.method == "POST" else 200) if done_in_time else 202
    body: dict[str, Any] = {"job": {"uuid": job.uuid, "_links": links(f"/api/cluster/jobs/{job.uuid}")}}
    if records is not None and request.query.get("return_records", "").lower() == "true":
        body.update(num_records=len(records), records=records)
    return Response(status, body, {"Location": location} if location else {})


def expire(cluster) -> None:
    cutoff = now() - JOB_RETENTION
    for uuid in [u for u, j in cluster.jobs.items() if j.end_time is not None and j.end_time < cutoff]:
        del cluster.jobs[uuid]


def lookup(cluster, uuid: str) -> Job:
    expire(cluster)
    if uuid not in cluster.jobs:
        raise not_found(f"job {uuid}")
    return cluster.jobs[uuid]
