"""/api/application/consistency-groups and their snapshots (ONTAP 9.10.1 and later).

A CG snapshot is one same-named snapshot in every member volume, taken all or nothing; `restore_to`
on the CG restores every member. The two-phase `?action=start` / `commit` flow is not modelled.
"""
from __future__ import annotations

from typing import Any

from ...world.storage import INVALID_VALUE, ConsistencyGroup, CgSnapshot, OntapError, new_uuid
from ..model import ResourceModel
from ..request import links
from ..router import Collection, Router
from .common import body_svm, choice, perform, referenced, svm_ref, timestamp, volume_ref

MIN_VERSION = "9.10.1"


class ConsistencyGroups(Collection):
    path = "/api/application/consistency-groups"
    model, family = ResourceModel("ConsistencyGroup"), "consistency_group"
    min_version = MIN_VERSION

    def objects(self, request):
        return list(request.cluster.consistency_groups.values())

    def find(self, request):
        return request.cluster.consistency_group(request.params["uuid"])

    def render(self, request, cg: ConsistencyGroup) -> dict[str, Any]:
        return {"uuid": cg.uuid, "name": cg.name, "svm": svm_ref(cg.svm),
                "volumes": [volume_ref(v) for v in cg.volumes], "replicated": False,
                "_links": links(f"/api/application/consistency-groups/{cg.uuid}")}

    def create(self, request):
        cluster = request.cluster
        svm = body_svm(request)
        name = request.required("name")
        volumes = request.field("volumes") or []
        if not isinstance(volumes, list) or not all(isinstance(v, dict) and v.get("name") for v in volumes):
            raise OntapError("Every volume needs a name.", INVALID_VALUE, target="volumes")
        uuid = new_uuid()
        location = f"/api/application/consistency-groups/{uuid}"

        def action():
            cluster.create_consistency_group(svm.name, name, [v["name"] for v in volumes], uuid=uuid)
        return perform(request, action, True, location=location,
                       records=[{"uuid": uuid, "name": name, "_links": links(location)}])

    def modify(self, request, cg: ConsistencyGroup):
        restore = request.field("restore_to.snapshot")
        if not isinstance(restore, dict):
            raise OntapError("Only restore_to.snapshot can be changed on a consistency group.", INVALID_VALUE,
                             target="restore_to")
        snap = referenced(lambda: request.cluster.cg_snapshot(cg, restore.get("uuid"), restore.get("name")),
                          "restore_to.snapshot")
        return perform(request, lambda: request.cluster.restore_consistency_group(cg, snap), True)

    def remove(self, request, cg: ConsistencyGroup):
        return perform(request, lambda: request.cluster.delete_consistency_group(cg), True)


class CgSnapshots(Collection):
    path = "/api/application/consistency-groups/{consistency_group.uuid}/snapshots"
    model, family = ResourceModel("ConsistencyGroupSnapshot"), "cg_snapshot"
    min_version = MIN_VERSION

    def _group(self, request) -> ConsistencyGroup:
        return request.cluster.consistency_group(request.params["consistency_group.uuid"])

    def objects(self, request):
        group = self._group(request)
        return [(group, s) for s in group.snapshots]

    def find(self, request):
        group = self._group(request)
        return group, request.cluster.cg_snapshot(group, uuid=request.params["uuid"])

    def render(self, request, pair) -> dict[str, Any]:
        group, snap = pair
        members = [(v, v.snapshot(snap.name)) for v in group.volumes if v.has_snapshot(snap.name)]
        return {"uuid": snap.uuid, "name": snap.name, "create_time": timestamp(snap.create_time),
                "comment": snap.comment, "snapmirror_label": snap.snapmirror_label,
                "consistency_type": snap.consistency_type, "svm": svm_ref(group.svm),
                "consistency_group": {"name": group.name, "uuid": group.uuid},
                "snapshot_volumes": [{"volume": volume_ref(v), "snapshot": {"name": s.name, "uuid": s.uuid}}
                                     for v, s in members],
                "is_partial": False, "missing_volumes": [volume_ref(v) for v in group.volumes
                                                         if not v.has_snapshot(snap.name)],
                "_links": links(f"/api/application/consistency-groups/{group.uuid}/snapshots/{snap.uuid}")}

    def create(self, request):
        cluster, group = request.cluster, self._group(request)
        name = request.required("name")
        kind = choice(request, "consistency_type", ("crash", "application"), "crash")
        uuid = new_uuid()
        location = f"/api/application/consistency-groups/{group.uuid}/snapshots/{uuid}"

        def action() -> CgSnapshot:
            return cluster.create_cg_snapshot(group, name, request.field("comment", ""),
                                              request.field("snapmirror_label", ""), kind, uuid=uuid)
        return perform(request, action, True, location=location,
                       records=[{"uuid": uuid, "name": name, "_links": links(location)}])

    def remove(self, request, pair):
        group, snap = pair
        return perform(request, lambda: request.cluster.delete_cg_snapshot(group, snap), True)


def register(router: Router) -> None:
    router.add_collection(ConsistencyGroups())
    router.add_collection(CgSnapshots())
