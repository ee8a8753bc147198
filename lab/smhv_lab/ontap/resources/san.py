"""SAN: /api/storage/luns, /api/protocols/san/igroups (with initiators) and /api/protocols/san/lun-maps.

LUN calls are synchronous (201 + Location) up to ONTAP 9.15 and jobs from 9.16 on, as the persona
says; igroups and LUN maps are always synchronous.
"""
from __future__ import annotations

from typing import Any

from ...world.storage import (DUPLICATE_ENTRY, IGROUP_OS_TYPES, IGROUP_PROTOCOLS, INVALID_VALUE, LUN_OS_TYPES, Igroup,
                              Lun, LunMap, OntapError, new_uuid, not_found, split_lun_path)
from ..model import ResourceModel
from ..request import Request, Response, as_bool, links
from ..router import Collection, Router
from .common import body_svm, choice, done, perform, positive_int, referenced, svm_ref, timestamp, volume_ref
from .licensing import require_licence


def lun_ref(lun: Lun) -> dict[str, Any]:
    return {"name": lun.path, "uuid": lun.uuid, "_links": links(f"/api/storage/luns/{lun.uuid}")}


def igroup_ref(group: Igroup) -> dict[str, Any]:
    return {"name": group.name, "uuid": group.uuid, "_links": links(f"/api/protocols/san/igroups/{group.uuid}")}


class Luns(Collection):
    path = "/api/storage/luns"
    model, family = ResourceModel("Lun"), "lun"
    expensive = frozenset({"lun_maps"})
    ignore = frozenset({"allow_delete_while_mapped"})

    def is_async(self, request):
        return request.cluster.at_least("9.16")

    def objects(self, request):
        return request.cluster.luns

    def find(self, request):
        return request.cluster.lun(uuid=request.params["uuid"])

    def render(self, request, lun: Lun) -> dict[str, Any]:
        maps = request.cluster.maps_of(lun)
        record = {
            "uuid": lun.uuid, "name": lun.path, "svm": svm_ref(lun.volume.svm),
            "location": {"volume": volume_ref(lun.volume), "logical_unit": lun.name},
            "os_type": lun.os_type, "serial_number": lun.serial, "serial_number_hex": lun.serial.encode().hex(),
            "class": "regular", "enabled": True, "comment": lun.comment, "create_time": timestamp(lun.create_time),
            "status": {"state": "online", "mapped": bool(maps), "read_only": lun.volume.type == "dp"},
            "space": {"size": lun.size, "used": lun.content.files.size(),
                      "guarantee": space_guarantee(lun),
                      "scsi_thin_provisioning_support_enabled": False},
            "lun_maps": [{"igroup": igroup_ref(m.igroup), "logical_unit_number": m.lun_id} for m in maps],
            "_links": links(f"/api/storage/luns/{lun.uuid}"),
        }
        if lun.clone_source_path:
            record["clone"] = {"source": {"name": lun.clone_source_path}}
        return record

    def create(self, request):
        cluster = request.cluster
        svm = body_svm(request)
        path = request.field("name")
        if path is None:
            volume = request.required("location.volume.name")
            path = f"/vol/{volume}/{request.required('location.logical_unit')}"
        volume, name = split_lun_path(path)
        source = request.field("clone.source.name")
        reserve = requested_guarantee(request, False)
        uuid = new_uuid()
        if source is not None:
            require_licence(cluster, "flexclone")
            if request.field("os_type") is not None or request.field("space.size") is not None:
                raise OntapError("os_type and space.size are not allowed when cloning a LUN.", INVALID_VALUE,
                                 target="clone.source.name")

            def action():
                cluster.clone_lun(source, path, svm.name, uuid=uuid, space_reserved=reserve)
        else:
            os_type = choice(request, "os_type", LUN_OS_TYPES)
            size = positive_int(request.required("space.size"), "space.size")

            def action():
                cluster.create_lun(volume, name, size, os_type, svm=svm.name, uuid=uuid,
                                   comment=request.field("comment", ""), space_reserved=reserve)
        location = f"/api/storage/luns/{uuid}"
        record = {"uuid": uuid, "name": path, "_links": links(location)}
        return perform(request, action, self.is_async(request), location=location, records=[record])

    def modify(self, request, lun: Lun):
        cluster, body = request.cluster, request.body
        source = request.field("clone.source.name")
        size = request.field("space.size")
        size = None if size is None else positive_int(size, "space.size")
        reserve = requested_guarantee(request, lun.space_reserved)
        if source is not None:
            require_licence(cluster, "flexclone")

        def action():
            if source is not None:
                cluster.overwrite_lun_from_clone(lun, source)
            if "name" in body and body["name"] != lun.path:
                cluster.rename_lun(lun, body["name"])
            if size is not None:
                cluster.resize_lun(lun, size)
            lun.comment = body.get("comment", lun.comment)
            lun.space_reserved = reserve
        return perform(request, action, self.is_async(request))

    def remove(self, request, lun: Lun):
        allow = request.flag("allow_delete_while_mapped")
        return perform(request, lambda: request.cluster.delete_lun(lun, allow), self.is_async(request))


def requested_guarantee(request: Request, default: bool) -> bool:
    value = request.field("space.guarantee.requested")
    return default if value is None else as_bool(value, "space.guarantee.requested")


def space_guarantee(lun: Lun) -> dict[str, bool]:
    """A requested reservation holds only in a volume whose own guarantee is "volume" (ONTAP also wants
    its fractional reserve at 100%, the default for such a volume, which the lab does not model)."""
    return {"requested": lun.space_reserved, "reserved": lun.space_reserved and lun.volume.guarantee == "volume"}


class Igroups(Collection):
    path = "/api/protocols/san/igroups"
    model = ResourceModel("Igroup")
    ignore = frozenset({"allow_delete_while_mapped"})
    asynchronous = False

    def objects(self, request):
        return list(request.cluster.igroups.values())

    def find(self, request):
        return request.cluster.igroup(uuid=request.params["uuid"])

    def render(self, request, group: Igroup) -> dict[str, Any]:
        maps = [m for m in request.cluster.lun_maps if m.igroup is group]
        return {"uuid": group.uuid, "name": group.name, "svm": svm_ref(group.svm), "os_type": group.os_type,
                "protocol": group.protocol, "comment": group.comment,
                "initiators": [{"name": i} for i in group.initiators],
                "igroups": [], "lun_maps": [{"lun": lun_ref(m.lun), "logical_unit_number": m.lun_id} for m in maps],
                "_links": links(f"/api/protocols/san/igroups/{group.uuid}")}

    def create(self, request):
        svm = body_svm(request)
        name = request.required("name")
        os_type = choice(request, "os_type", IGROUP_OS_TYPES)
        protocol = choice(request, "protocol", IGROUP_PROTOCOLS, "mixed")
        initiators = initiator_names(request.field("initiators") or [])
        group = request.cluster.create_igroup(svm.name, name, os_type, protocol, initiators,
                                              comment=request.field("comment", ""))
        location = f"/api/protocols/san/igroups/{group.uuid}"
        return done(request, location=location,
                    records=[{"uuid": group.uuid, "name": group.name, "_links": links(location)}])

    def modify(self, request, group: Igroup):
        body = request.body
        if "os_type" in body:
            group.os_type = choice(request, "os_type", IGROUP_OS_TYPES)
        if "name" in body and body["name"] != group.name:
            if any(g.name == body["name"] and g.svm is group.svm for g in request.cluster.igroups.values()):
                raise OntapError(f'Duplicate igroup name "{body["name"]}".', DUPLICATE_ENTRY, target="name")
            group.name = body["name"]
        group.comment = body.get("comment", group.comment)
        return done(request)

    def remove(self, request, group: Igroup):
        request.cluster.delete_igroup(group, request.flag("allow_delete_while_mapped"))
        return done(request)


def initiator_names(items: list[Any]) -> list[str]:
    names = [item["name"] if isinstance(item, dict) else item for item in items]
    if not all(isinstance(n, str) and n for n in names):
        raise OntapError("Every initiator needs a name.", INVALID_VALUE, target="initiators.name")
    return names


def add_initiators(request: Request) -> Response:
    group = request.cluster.igroup(uuid=request.params["igroup.uuid"])
    records = request.field("records") or [request.body]
    for name in initiator_names(records):
        if name.lower() in (i.lower() for i in group.initiators):
            raise OntapError(f'Initiator "{name}" is already in igroup "{group.name}".', DUPLICATE_ENTRY, target="name")
        group.initiators.append(name)
    return done(request)


def remove_initiator(request: Request) -> Response:
    group = request.cluster.igroup(uuid=request.params["igroup.uuid"])
    name = request.params["name"]
    match = next((i for i in group.initiators if i.lower() == name.lower()), None)
    if match is None:
        raise not_found(f'initiator "{name}" in igroup "{group.name}"', target="name")
    group.initiators.remove(match)
    return done(request)


class LunMaps(Collection):
    path = "/api/protocols/san/lun-maps"
    model = ResourceModel("LunMap")
    keys = ("lun.uuid", "igroup.uuid")
    identity = ("svm", "lun", "igroup", "logical_unit_number")
    asynchronous = False

    def objects(self, request):
        return list(request.cluster.lun_maps)

    def find(self, request) -> LunMap:
        for mapping in request.cluster.lun_maps:
            if mapping.lun.uuid == request.params["lun.uuid"] and mapping.igroup.uuid == request.params["igroup.uuid"]:
                return mapping
        raise not_found(f"LUN map {request.params['lun.uuid']}/{request.params['igroup.uuid']}")

    def render(self, request, mapping: LunMap) -> dict[str, Any]:
        return {"svm": svm_ref(mapping.lun.volume.svm), "lun": lun_ref(mapping.lun),
                "igroup": igroup_ref(mapping.igroup),
                "logical_unit_number": mapping.lun_id, "reporting_nodes": [{"name": f"{request.cluster.name}-01"}],
                "_links": links(f"/api/protocols/san/lun-maps/{mapping.lun.uuid}/{mapping.igroup.uuid}")}

    def create(self, request):
        cluster = request.cluster
        svm = request.field("svm.name")
        lun_uuid, lun_name = request.field("lun.uuid"), request.field("lun.name")
        lun = referenced(lambda: cluster.lun(lun_name, lun_uuid, svm), "lun.name")
        group_uuid, group_name = request.field("igroup.uuid"), request.field("igroup.name")
        group = referenced(lambda: cluster.igroup(group_name, lun.volume.svm.name, group_uuid), "igroup.name")
        number = request.field("logical_unit_number")
        mapping = cluster.map(lun, group, None if number is None else int(number))
        location = f"/api/protocols/san/lun-maps/{lun.uuid}/{group.uuid}"
        return done(request, location=location,
                    records=[{"logical_unit_number": mapping.lun_id, "_links": links(location)}])

    def remove(self, request, mapping: LunMap):
        request.cluster.unmap(mapping)
        return done(request)


def register(router: Router) -> None:
    router.add_route("POST", "/api/protocols/san/igroups/{igroup.uuid}/initiators", add_initiators,
                     model="IgroupInitiator")
    router.add_route("DELETE", "/api/protocols/san/igroups/{igroup.uuid}/initiators/{name}", remove_initiator,
                     model="IgroupInitiator")
    for collection in (Luns(), Igroups(), LunMaps()):
        router.add_collection(collection)
