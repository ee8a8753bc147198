"""ONTAP's collection semantics: `fields`, dotted query filters with operators, order and pagination.

Resources hand over complete records (every field, expensive ones included); this module filters,
sorts, pages and projects them, so every collection behaves the same way.
"""
from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import quote, urlencode

from ..world.storage import INVALID_VALUE, OntapError
from .request import Request, Response

# Query parameters that steer the call instead of filtering records. Resources add their own
# action parameters (force, allow_delete_while_mapped, ...) through `ignore`.
CONTROL = frozenset({"fields", "max_records", "return_records", "return_timeout", "order_by", "start.offset",
                     "privilege_level"})
CURSOR = "start.offset"  # opaque to clients: they follow `_links.next.href` verbatim
COMPARISONS = (("<=", lambda c: c <= 0), (">=", lambda c: c >= 0), ("<", lambda c: c < 0), (">", lambda c: c > 0))


def values_at(node: Any, parts: list[str]) -> list[Any]:
    """Every value at a dotted path; arrays fan out, so `initiators.name=x` matches any member."""
    if isinstance(node, list):
        return [v for item in node for v in values_at(item, parts)]
    if not parts:
        return [node]
    if isinstance(node, dict) and parts[0] in node:
        return values_at(node[parts[0]], parts[1:])
    return []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(value: Any, operand: str) -> int:
    try:
        left, right = float(value), float(operand)
    except (TypeError, ValueError):
        left, right = _text(value), operand  # ISO timestamps with one offset order as text
    return (left > right) - (left < right)


def _term_matches(values: list[Any], term: str) -> bool:
    if term.startswith("!"):
        return not _term_matches(values, term[1:])
    if term == "null":
        return all(v is None for v in values)
    present = [v for v in values if v is not None]
    for op, test in COMPARISONS:
        if term.startswith(op):
            return any(test(_compare(v, term[len(op):])) for v in present)
    if "*" in term:
        pattern = re.compile(".*".join(re.escape(p) for p in term.split("*")), re.DOTALL)
        return any(pattern.fullmatch(_text(v)) for v in present)
    return any(_text(v) == term for v in present)


def matches(record: dict[str, Any], key: str, expression: str) -> bool:
    """`a|b` is or; each alternative may be `!x`, `<x`, `>=x`, `null`, `!null` or hold `*` wildcards."""
    values = values_at(record, key.split("."))
    return any(_term_matches(values, term) for term in expression.split("|"))


def filters(request: Request, ignore: Iterable[str] = ()) -> dict[str, str]:
    skip = CONTROL | set(ignore)
    return {k: v for k, v in request.query.items() if k not in skip}


def select(records: list[dict[str, Any]], request: Request, ignore: Iterable[str] = ()) -> list[dict[str, Any]]:
    wanted = filters(request, ignore)
    chosen = [r for r in records if all(matches(r, k, v) for k, v in wanted.items())]
    order = request.query.get("order_by")
    if order:
        for clause in reversed([c.strip() for c in order.split(",") if c.strip()]):
            name, _, direction = clause.partition(" ")
            chosen.sort(key=lambda r, n=name: _sort_key(r, n), reverse=direction.strip().lower() == "desc")
    return chosen


def _sort_key(record: dict[str, Any], name: str) -> tuple:
    values = values_at(record, name.split("."))
    value = values[0] if values else None
    if value is None:
        return (0, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value, "")
    return (2, 0, _text(value))


# -- projection --------------------------------------------------------------------------------
def _pick(target: dict[str, Any], node: Any, parts: list[str]) -> None:
    if not isinstance(node, dict) or parts[0] not in node:
        return  # unknown fields are ignored, as ONTAP does for fields that do not apply
    key, value = parts[0], node[parts[0]]
    if len(parts) == 1 or not isinstance(value, (dict, list)):
        target[key] = value
    elif target.get(key) is value:
        return  # already taken whole
    elif isinstance(value, dict):
        _pick(target.setdefault(key, {}), value, parts[1:])
    else:
        items = target.setdefault(key, [{} for _ in value])
        for sub_target, sub_node in zip(items, value):
            _pick(sub_target, sub_node, parts[1:])


def project(record: dict[str, Any], request: Request, identity: tuple[str, ...], expensive: frozenset[str],
            collection: bool, queried: Iterable[str] = ()) -> dict[str, Any]:
    """Apply `fields`: none gives identity (collections) or every cheap field (instances); `*` every cheap
    field, `**` everything; a list gives those fields plus the identity and the links. Fields used as
    query filters come back too, as ONTAP does (na_ontap_lun reads location.volume.name that way)."""
    requested = request.query.get("fields")
    if requested is None:
        wanted = [] if collection else ["*"]
    else:
        wanted = [f.strip() for f in requested.split(",") if f.strip()]
    if "**" in wanted:
        return record
    result: dict[str, Any] = {}
    if "*" in wanted:
        result = {k: v for k, v in record.items() if k not in expensive}
    for name in [*identity, "_links", *queried, *(f for f in wanted if f not in ("*", "**"))]:
        _pick(result, record, name.split("."))
    return {k: result[k] for k in record if k in result}  # keep the record's field order


# -- envelopes ---------------------------------------------------------------------------------
def _href(path: str, query: dict[str, str]) -> str:
    return path + ("?" + urlencode(query, quote_via=quote, safe="*,|!:/") if query else "")


def collection_response(request: Request, records: list[dict[str, Any]], identity: tuple[str, ...],
                        expensive: frozenset[str] = frozenset(), ignore: Iterable[str] = ()) -> Response:
    chosen = select(records, request, ignore)
    start = request.int_param(CURSOR, 0)
    limit = request.int_param("max_records", len(chosen))
    if start < 0 or limit < 0:
        raise OntapError("max_records and the cursor must not be negative.", INVALID_VALUE, target="max_records")
    page = chosen[start:start + limit]
    body: dict[str, Any] = {}
    if request.query.get("return_records", "true").lower() != "false":
        queried = list(filters(request, ignore))
        body["records"] = [project(r, request, identity, expensive, collection=True, queried=queried) for r in page]
    body["num_records"] = len(page) if "records" in body else len(chosen)
    links: dict[str, Any] = {"self": {"href": _href(request.path, request.query)}}
    if "records" in body and start + len(page) < len(chosen):
        # The client sends nothing but this link, so it must carry every original parameter.
        links["next"] = {"href": _href(request.path, {**request.query, CURSOR: str(start + len(page))})}
    body["_links"] = links
    return Response(200, body)


def instance_response(request: Request, record: dict[str, Any], identity: tuple[str, ...],
                      expensive: frozenset[str] = frozenset()) -> Response:
    return Response(200, project(record, request, identity, expensive, collection=False))
