"""Which fields each ONTAP resource has, and which a POST or a PATCH may set: ONTAP's published REST
model as the netapp-ontap library carries it.

netapp-ontap's resource and model classes are generated from ONTAP's REST API documentation. Each
marshmallow schema lists its fields (the JSON name is the field's `data_key`) and, in
`postable_fields` and `patchable_fields`, the ones a POST or a PATCH may carry: a field listed there
is writable with every sub-field its own schema marks writable, an entry `svm.name` makes only that
sub-field of `svm` writable, and a field in neither list is read-only (`uuid`, `create_time`). The lab
answers what that model refuses the way ONTAP does (codes from ONTAP's table of generic REST errors):

    an unknown field in a body or a query     400, 262179 'Unexpected argument "x".', target x
    a read-only field in a POST or PATCH      400, 262196 'Field "x" cannot be set in this operation.'
    an unknown name in `fields=`              400, 262197 'The value "x" is invalid for field "fields"'
    a model field as a POST query parameter   400, 262211

The schemas are read lazily, once per schema class. Where the library's model lacks what ONTAP
documents and clients send, `EXTRA_WRITABLE` adds it, each with its source.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any, Iterable

from ..world.storage import OntapError

UNEXPECTED_ARGUMENT = 262179
FIELD_NOT_SETTABLE = 262196
INVALID_FIELD_VALUE = 262197
POST_QUERY_NOT_ALLOWED = 262211

# Writable paths ONTAP documents that the library's generated model does not have.
EXTRA_WRITABLE: dict[str, dict[str, tuple[str, ...]]] = {
    # PATCH /storage/volumes/{uuid} restore_to.snapshot.{name,uuid} is a volume SnapRestore (ONTAP REST
    # reference, "Restoring a volume to a snapshot"; na_ontap_volume's snapshot_restore sends it). The
    # library's Volume schema has no restore_to field, neither in 9.13.1.0 nor in 9.19.1.0.
    "Volume": {"PATCH": ("restore_to.snapshot.name", "restore_to.snapshot.uuid")},
}


@dataclass(frozen=True)
class _Schema:
    fields: dict[str, tuple[str, Any]]  # JSON name -> (the library's attribute name, nested schema class or None)
    postable: frozenset[str]
    patchable: frozenset[str]

    def writable(self, method: str) -> frozenset[str]:
        return self.postable if method == "POST" else self.patchable


@functools.lru_cache(maxsize=None)
def _schema(schema_class: Any) -> _Schema:
    from marshmallow import fields as marshmallow_fields

    fields = {}
    with warnings.catch_warnings():  # the generated schemas use fields that marshmallow 4 deprecates
        warnings.simplefilter("ignore")
        instance = schema_class()
        for attribute, field in instance.fields.items():
            inner = field.inner if isinstance(field, marshmallow_fields.List) else field
            nested = type(inner.schema) if isinstance(inner, marshmallow_fields.Nested) else None
            fields[field.data_key or attribute] = (attribute, nested)
    return _Schema(fields, frozenset(getattr(instance, "postable_fields", ())),
                   frozenset(getattr(instance, "patchable_fields", ())))


@functools.lru_cache(maxsize=None)
def resource_schema(resource: str) -> Any:
    try:
        from netapp_ontap import resources
    except ImportError as error:  # the lab's strictness is the library's model: without it there is none
        raise RuntimeError("The lab's ONTAP REST model comes from the netapp-ontap library: "
                           "pip install netapp-ontap (requirements.txt pins it).") from error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(resources, resource)._schema


def unexpected(path: str) -> OntapError:
    return OntapError(f'Unexpected argument "{path}".', UNEXPECTED_ARGUMENT, target=path)


class ResourceModel:
    """The fields of one netapp-ontap resource (`Volume`, `Lun`, ...), for checking requests."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.extra = EXTRA_WRITABLE.get(resource, {})

    @property
    def _root(self) -> Any:
        return resource_schema(self.resource)

    def knows(self, dotted: str) -> bool:
        """Whether `dotted` names a field (or a sub-object) of the resource, as a filter or in `fields=`."""
        if any(path == dotted or path.startswith(dotted + ".") for paths in self.extra.values() for path in paths):
            return True
        schema_class = self._root
        for part in dotted.split("."):
            if schema_class is None or part not in _schema(schema_class).fields:
                return False
            schema_class = _schema(schema_class).fields[part][1]
        return True

    def check_query(self, names: Iterable[str], method: str) -> None:
        for name in names:
            if not self.knows(name):
                raise unexpected(name)
            if method == "POST":
                raise OntapError("POST request on a REST API does not support filtering on an attribute. Attributes "
                                 "must be in the request body.", POST_QUERY_NOT_ALLOWED, target=name)

    def check_fields(self, requested: str) -> None:
        for name in (part.strip() for part in requested.split(",")):
            if name and name not in ("*", "**") and not self.knows(name):
                raise OntapError(f'The value "{name}" is invalid for field "fields"', INVALID_FIELD_VALUE,
                                 target="fields")

    def check_body(self, body: dict[str, Any], method: str) -> None:
        """Every field of a POST or PATCH body must exist and be writable in that operation."""
        extra = self.extra.get(method, ())
        self._check_object(self._root, body, "", method, None, extra)

    def _check_object(self, schema_class: Any, body: dict[str, Any], prefix: str, method: str,
                      only: frozenset[str] | None, extra: tuple[str, ...]) -> None:
        schema = _schema(schema_class)
        writable = schema.writable(method)
        for key, value in body.items():
            path = prefix + key
            if key not in schema.fields and any(allowed.startswith(path + ".") or allowed == path for allowed in extra):
                _check_extra(value, path, extra)  # documented by ONTAP, missing from the library's model
                continue
            if key not in schema.fields:
                raise unexpected(path)
            attribute, nested = schema.fields[key]
            if only is not None:  # the parent listed which of its sub-fields are writable ("svm.name")
                whole, parts = attribute in only or key in only, None
            else:
                whole = attribute in writable
                parts = frozenset(f.split(".", 1)[1] for f in writable if f.startswith(attribute + "."))
            if not whole and not parts:
                raise OntapError(f'Field "{path}" cannot be set in this operation.', FIELD_NOT_SETTABLE, target=path)
            if nested is None:
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    self._check_object(nested, item, path + ".", method, None if whole else parts, ())


def _check_extra(value: Any, path: str, extra: tuple[str, ...]) -> None:
    if isinstance(value, dict):
        for key, sub_value in value.items():
            _check_extra(sub_value, f"{path}.{key}", extra)
    elif path not in extra:
        raise unexpected(path)
