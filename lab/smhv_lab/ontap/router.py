"""Maps a normalised path to a resource and runs the generic REST verbs over it.

Collection resources (`Collection` subclasses) get ONTAP's semantics for free: filtered, paged and
projected GETs, instance GETs, and collection-wide PATCH/DELETE by query, which ONTAP answers with a
list of jobs. Anything else (the cluster, jobs, CLI passthrough, file clone) is a plain route.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote

from ..world.storage import INVALID_VALUE, OntapError
from . import jobs, query
from .model import ResourceModel
from .request import Request, Response

API_NOT_FOUND = 3
COLLECTION_RETURN_TIMEOUT = 15  # ONTAP's default for PATCH and DELETE on a collection


class Collection:
    """One ONTAP collection: `path` with `{parent}` keys, and its instances at `path/{key}...`."""

    path: str
    keys: tuple[str, ...] = ("uuid",)  # path segments after the collection path
    identity: tuple[str, ...] = ("uuid", "name")  # fields every record carries
    expensive: frozenset[str] = frozenset()  # returned only for fields=** or by name
    ignore: frozenset[str] = frozenset()  # action parameters that are not filters
    min_version = "0"
    asynchronous = True  # POST/PATCH/DELETE answer with a job
    model: ResourceModel | None = None  # the fields ONTAP's model gives it (model.py)
    family = ""  # its jobs' name in jobs.REALISTIC ("snapshot")

    def is_async(self, request: Request) -> bool:
        return self.asynchronous

    def objects(self, request: Request) -> list[Any]:
        raise NotImplementedError

    def find(self, request: Request) -> Any:
        raise NotImplementedError

    def render(self, request: Request, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, request: Request) -> Response:
        raise OntapError("POST is not allowed on this collection.", INVALID_VALUE, status=405)

    def modify(self, request: Request, obj: Any) -> Response:
        raise OntapError("PATCH is not allowed on this resource.", INVALID_VALUE, status=405)

    def remove(self, request: Request, obj: Any) -> Response:
        raise OntapError("DELETE is not allowed on this resource.", INVALID_VALUE, status=405)

    # -- generic verbs -------------------------------------------------------------------------
    def get_collection(self, request: Request) -> Response:
        records = [self.render(request, obj) for obj in self.objects(request)]
        return query.collection_response(request, records, self.identity, self.expensive, self.ignore)

    def get_instance(self, request: Request) -> Response:
        return query.instance_response(request, self.render(request, self.find(request)), self.identity,
                                       self.expensive)

    def bulk(self, request: Request, verb: Callable[[Request, Any], Response]) -> Response:
        """PATCH or DELETE every record the query selects (ONTAP insists on at least one filter)."""
        if not query.filters(request, self.ignore):
            raise OntapError("A PATCH or DELETE on a collection needs at least one query filter.", INVALID_VALUE)
        pairs = [(obj, self.render(request, obj)) for obj in self.objects(request)]
        chosen = query.select([record for _, record in pairs], request, self.ignore)
        started = []
        for obj, record in pairs:
            if any(record is c for c in chosen):
                started.extend(verb(request, obj).jobs)
        wait = request.int_param("return_timeout", COLLECTION_RETURN_TIMEOUT)
        links = [{"uuid": job.uuid, "_links": {"self": {"href": f"/api/cluster/jobs/{job.uuid}"}}} for job in started]
        reply = Response(202 if started else 200, {"num_records": len(chosen), "jobs": links}, jobs=started,
                         return_timeout=wait)
        return jobs.finish_reply(reply, request.method)


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: list[str]
    handler: Handler
    asynchronous: bool = False
    model: ResourceModel | None = None
    family: str = ""


class Router:
    def __init__(self) -> None:
        self._collections: list[tuple[list[str], Collection]] = []
        self._routes: list[Route] = []
        # (method, route pattern or raw path when none matched) -> count: what a client called, for the
        # control API's GET /ontap-requests (the user guide's minimal REST role is checked against it)
        self.served: dict[tuple[str, str], int] = {}

    def _count(self, method: str, pattern: list[str] | None, path: str) -> None:
        key = (method, "/" + "/".join(pattern) if pattern is not None else path)
        self.served[key] = self.served.get(key, 0) + 1

    def add_collection(self, collection: Collection) -> None:
        self._collections.append((_segments(collection.path), collection))

    def add_route(self, method: str, pattern: str, handler: Handler, asynchronous: bool = False,
                  model: str | None = None, family: str = "") -> None:
        self._routes.append(Route(method, _segments(pattern), handler, asynchronous,
                                  ResourceModel(model) if model else None, family))

    def dispatch(self, request: Request) -> Response:
        jobs.settle_all(request.cluster)  # what ended since the last request lands before this one is served
        parts = _segments(request.path)
        for route in self._routes:
            params = _match(route.pattern, parts)
            if params is not None and route.method == request.method:
                request.params, request.family = params, route.family
                self._count(route.method, route.pattern, request.path)
                check(request, route.model)
                _fail_if_injected(request, route.asynchronous)
                return route.handler(request)
        for pattern, collection in self._collections:
            for extra in (0, len(collection.keys)):
                params = _match(pattern + ["{%s}" % k for k in collection.keys[:extra]], parts)
                if params is None:
                    continue
                if not request.cluster.at_least(collection.min_version):
                    break
                request.params, request.family = params, collection.family
                self._count(request.method, pattern + ["{%s}" % k for k in collection.keys[:extra]], request.path)
                check(request, collection.model, collection.ignore)
                return self._run(collection, request, instance=bool(extra))
        self._count(request.method, None, request.path)
        raise OntapError(f"API not found: {request.method} {request.path}", API_NOT_FOUND, status=404)

    @staticmethod
    def _run(collection: Collection, request: Request, instance: bool) -> Response:
        _fail_if_injected(request, collection.is_async(request))
        if request.method == "GET":
            return collection.get_instance(request) if instance else collection.get_collection(request)
        if request.method == "POST" and not instance:
            return collection.create(request)
        if request.method in ("PATCH", "DELETE"):
            verb = collection.modify if request.method == "PATCH" else collection.remove
            return verb(request, collection.find(request)) if instance else collection.bulk(request, verb)
        raise OntapError(f"{request.method} is not allowed on {request.path}.", INVALID_VALUE, status=405)


def check(request: Request, model: ResourceModel | None, ignore: frozenset[str] = frozenset()) -> None:
    """Refuse what ONTAP's model for the resource does not have, as ONTAP does (model.py)."""
    if model is None:
        return
    if "fields" in request.query:
        model.check_fields(request.query["fields"])
    model.check_query(query.filters(request, ignore), request.method)
    if request.method in ("POST", "PATCH"):
        model.check_body(request.body, request.method)


def _fail_if_injected(request: Request, asynchronous: bool) -> None:
    """A job_failure fault on a synchronous call has no job to fail, so the call itself fails (400)."""
    if request.method != "GET" and request.job_fault is not None and not asynchronous:
        params = request.job_fault.params
        raise OntapError(str(params.get("message", "Injected failure.")), int(params.get("code", 1)))


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _match(pattern: list[str], parts: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(parts):
        return None
    params = {}
    for want, got in zip(pattern, parts):
        if want.startswith("{"):
            params[want[1:-1]] = unquote(got)
        elif want != got:
            return None
    return params
