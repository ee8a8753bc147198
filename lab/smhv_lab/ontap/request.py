"""One REST call as the resources see it, the reply they build, and ONTAP's request-body conventions."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..faults import FaultRule
from ..world.storage import INVALID_VALUE, OntapError, StorageCluster


@dataclass
class Request:
    method: str
    path: str  # normalised: no doubled or trailing slashes, segments still quoted
    query: dict[str, str]  # last value wins, as the netapp-ontap client sends it
    body: dict[str, Any]  # dotted keys already expanded
    cluster: StorageCluster
    params: dict[str, str] = field(default_factory=dict)  # keys taken from the path by the router
    job_fault: FaultRule | None = None  # a job_failure fault aimed at this request
    family: str = ""  # what a job of this request is called ("snapshot"), for its duration

    def flag(self, name: str) -> bool:
        return as_bool(self.query.get(name, False), name)

    def int_param(self, name: str, default: int) -> int:
        value = self.query.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise OntapError(f'"{value}" is an invalid value for parameter "{name}".', INVALID_VALUE,
                             target=name) from None

    def field(self, dotted: str, default: Any = None) -> Any:
        return dig(self.body, dotted, default)

    def required(self, dotted: str) -> Any:
        value = dig(self.body, dotted)
        if value in (None, ""):
            raise OntapError(f'Missing value for required field "{dotted}".', INVALID_VALUE, target=dotted)
        return value


@dataclass
class Response:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    jobs: list[Any] = field(default_factory=list)  # the jobs.Job objects this call started
    return_timeout: int = 0  # seconds the server may hold the reply for them

    def encode(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body, separators=(",", ":")).encode()


def error_response(exc: OntapError, status: int | None = None) -> Response:
    error: dict[str, Any] = {"message": exc.message, "code": str(exc.code)}  # a string in error bodies
    if exc.target:
        error["target"] = exc.target
    return Response(status or exc.status, {"error": error})


def links(href: str) -> dict[str, Any]:
    return {"self": {"href": href}}


def dig(node: Any, dotted: str, default: Any = None) -> Any:
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def as_bool(value: Any, name: str = "value") -> bool:
    """ONTAP takes booleans as JSON booleans or as the strings "true"/"false" (the collections send both)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise OntapError(f'"{value}" is an invalid value for field "{name}"; expected true or false.', INVALID_VALUE,
                     target=name)


def expand_dotted(node: Any) -> Any:
    """{"svm.name": "vs0", "svm": {"uuid": "u"}} -> {"svm": {"name": "vs0", "uuid": "u"}}."""
    if isinstance(node, list):
        return [expand_dotted(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        *parents, leaf = key.split(".")
        target = result
        for part in parents:
            target = target.setdefault(part, {})
        _merge(target, leaf, expand_dotted(value))
    return result


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, dict) and isinstance(target.get(key), dict):
        for sub_key, sub_value in value.items():
            _merge(target[key], sub_key, sub_value)
    else:
        target[key] = value
