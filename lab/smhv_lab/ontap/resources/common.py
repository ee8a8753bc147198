"""Pieces every resource family shares: object references, timestamps, and sync-or-job replies."""
from __future__ import annotations

import datetime
import uuid as uuidlib
from typing import Any, Callable

from ...world.storage import INVALID_VALUE, OntapError, StorageCluster, Svm, Volume
from .. import jobs
from ..request import Request, Response, links


def svm_ref(svm: Svm) -> dict[str, Any]:
    return {"name": svm.name, "uuid": svm.uuid, "_links": links(f"/api/svm/svms/{svm.uuid}")}


def volume_ref(vol: Volume) -> dict[str, Any]:
    return {"name": vol.name, "uuid": vol.uuid, "_links": links(f"/api/storage/volumes/{vol.uuid}")}


def timestamp(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def parse_time(value: str, name: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise OntapError(f'"{value}" is an invalid value for field "{name}".', INVALID_VALUE, target=name) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


def stable_uuid(*names: str) -> str:
    """A uuid for objects the lab derives rather than stores (nodes, policies, SVM peers)."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "/".join(names)))


def referenced(lookup: Callable[[], Any], target: str) -> Any:
    """An object named in a request body: a missing one is a bad request (400), not a missing URL (404)."""
    try:
        return lookup()
    except OntapError as exc:
        raise OntapError(exc.message, exc.code, status=400, target=target) from None


def body_svm(request: Request, prefix: str = "svm") -> Svm:
    name, uuid = request.field(f"{prefix}.name"), request.field(f"{prefix}.uuid")
    if name is None and uuid is None:
        raise OntapError(f'Missing value for required field "{prefix}.name".', INVALID_VALUE, target=f"{prefix}.name")
    return referenced(lambda: request.cluster.svm(name, uuid), f"{prefix}.name")


def body_volume(request: Request, prefix: str, svm: str | None = None) -> Volume:
    cluster: StorageCluster = request.cluster
    uuid = request.field(f"{prefix}.uuid")
    if uuid is not None:
        return referenced(lambda: cluster.volume(uuid=uuid), f"{prefix}.uuid")
    name = request.required(f"{prefix}.name")
    return referenced(lambda: cluster.volume(name, svm or request.field("svm.name")), f"{prefix}.name")


def positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise OntapError(f'"{value}" is an invalid value for field "{name}".', INVALID_VALUE, target=name) from None
    if number <= 0:
        raise OntapError(f'Field "{name}" must be positive.', INVALID_VALUE, target=name)
    return number


def choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = request.field(name, default)
    if value not in allowed:
        raise OntapError(f'"{value}" is an invalid value for field "{name}". Valid values: {", ".join(allowed)}.',
                         INVALID_VALUE, target=name)
    return value


def perform(request: Request, action: Callable[[], Any], asynchronous: bool, *, location: str | None = None,
            records: list[dict[str, Any]] | None = None) -> Response:
    """Reply to a change: as a job when the persona makes the call asynchronous, else do it now (201/200)."""
    if asynchronous:
        return jobs.start(request, action, location=location, records=records)
    action()
    return done(request, location=location, records=records)


def done(request: Request, *, location: str | None = None, records: list[dict[str, Any]] | None = None) -> Response:
    """The reply to a synchronous change: 201 + Location for a create, 200 otherwise."""
    body: dict[str, Any] = {}
    if records is not None and request.query.get("return_records", "").lower() == "true":
        body = {"num_records": len(records), "records": records}
    return Response(201 if request.method == "POST" else 200, body, {"Location": location} if location else {})
