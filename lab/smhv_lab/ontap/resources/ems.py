"""EMS: what an application logs to the cluster (`POST /api/support/ems/application-logs`) and the event
log it lands in (`GET /api/support/ems/events`), as SnapDrive and SnapCenter use them.

ONTAP (REST reference, "Create an application log", since 9.11) takes eight fields, all required:
computer_name, event_source, app_version, event_id, category, event_description, severity (emergency,
alert, error or notice) and autosupport_required; it answers 201 with an empty body and logs an
app.log.<severity> event, plus a callhome.client.app.<severity> event, which raises an AutoSupport,
when autosupport_required is true. The endpoint only takes POST. The events are read back from
/api/support/ems/events (node, index, time, message.name and .severity, log_message, parameters).
The parameter names and the log_message layout below are the lab's rendering of those fields; the
reference documents the fields, not the exact text ONTAP formats from them.
"""
from __future__ import annotations

from typing import Any

from ...world.storage import INVALID_VALUE, OntapError, not_found
from ...world.storage.common import now
from ..model import ResourceModel
from ..request import Request, Response, as_bool, links
from ..router import Collection, Router
from .cluster import node_name
from .common import stable_uuid, timestamp

REQUIRED = ("computer_name", "event_source", "app_version", "event_id", "category", "event_description", "severity",
            "autosupport_required")
# severity -> the EMS message suffix ONTAP logs it under
SEVERITIES = {"emergency": "emerg", "alert": "alert", "error": "err", "notice": "notice"}
PARAMETERS = (("computerName", "computer_name"), ("eventID", "event_id"), ("eventSource", "event_source"),
              ("appVersion", "app_version"), ("category", "category"), ("subject", "event_description"))


class ApplicationLogs(Collection):
    path = "/api/support/ems/application-logs"
    model = ResourceModel("EmsApplicationLog")
    min_version = "9.11"
    asynchronous = False

    def get_collection(self, request: Request) -> Response:
        raise OntapError("GET is not allowed on /api/support/ems/application-logs; it only supports POST. Read the "
                         "events from /api/support/ems/events.", INVALID_VALUE, status=405)

    def find(self, request: Request) -> Any:
        raise OntapError("This API only supports POST.", INVALID_VALUE, status=405)

    def create(self, request: Request) -> Response:
        for name in REQUIRED:
            if request.field(name) is None or request.field(name) == "":
                raise OntapError(f'Missing value for required field "{name}".', INVALID_VALUE, target=name)
        severity = request.field("severity")
        if severity not in SEVERITIES:
            raise OntapError(f'"{severity}" is an invalid value for field "severity" (one of {", ".join(SEVERITIES)}).',
                             INVALID_VALUE, target="severity")
        event_id = request.field("event_id")
        if isinstance(event_id, bool) or not isinstance(event_id, int):
            raise OntapError(f'"{event_id}" is an invalid value for field "event_id"; expected an integer.', INVALID_VALUE,
                             target="event_id")
        autosupport = as_bool(request.field("autosupport_required"), "autosupport_required")
        names = ["app.log." + SEVERITIES[severity]] + (["callhome.client.app." + SEVERITIES[severity]] if autosupport else [])
        for name in names:
            _log(request, name, severity)
        return Response(201, {})


def _log(request: Request, name: str, severity: str) -> None:
    cluster = request.cluster
    parameters = [{"name": label, "value": str(request.field(field))} for label, field in PARAMETERS]
    text = "%s: %s: %s (%s) (%s) %s: %s" % (name, request.field("computer_name"), request.field("event_source"),
                                            request.field("app_version"), request.field("event_id"),
                                            request.field("category"), request.field("event_description"))
    cluster.ems_events.append({"index": len(cluster.ems_events) + 1, "time": timestamp(now()),
                               "message": {"name": name, "severity": severity}, "log_message": text,
                               "parameters": parameters, "source": request.field("event_source")})


class Events(Collection):
    path = "/api/support/ems/events"
    model = ResourceModel("EmsEvent")
    keys = ("node", "index")
    identity = ("node.name", "index")

    def objects(self, request: Request) -> list[Any]:
        return list(request.cluster.ems_events)

    def find(self, request: Request) -> Any:
        for event in request.cluster.ems_events:
            if request.params["node"] == node_name(request.cluster) and str(event["index"]) == request.params["index"]:
                return event
        raise not_found(f"event {request.params['node']}/{request.params['index']}", "index")

    def create(self, request: Request) -> Response:
        raise OntapError("POST is not allowed on /api/support/ems/events; applications log to "
                         "/api/support/ems/application-logs.", INVALID_VALUE, status=405)

    def render(self, request: Request, event: dict[str, Any]) -> dict[str, Any]:
        cluster = request.cluster
        node = {"name": node_name(cluster), "uuid": stable_uuid(cluster.uuid, "node")}
        href = f"/api/support/ems/events/{node['name']}/{event['index']}"
        return {"node": node, "index": event["index"], "time": event["time"], "message": dict(event["message"]),
                "log_message": event["log_message"], "parameters": [dict(p) for p in event["parameters"]],
                "source": event["source"], "_links": links(href)}


def register(router: Router) -> None:
    router.add_collection(ApplicationLogs())
    router.add_collection(Events())
