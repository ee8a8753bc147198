"""/api/snapmirror/relationships and their transfers.

PATCH `state` drives the state machine (initialize, resume, resync, quiesce, break); a PATCH that
swaps source and destination paths is a reverse resync. Relationships are served by the cluster that
holds them, the destination; reads of a relationship move a slow transfer on (`transfer_polls`).
"""
from __future__ import annotations

from typing import Any

from ...world.storage import INVALID_VALUE, OntapError, Relationship, Transfer, new_uuid, not_found
from ...world.storage.snapmirror import VAULT_POLICIES
from ..model import ResourceModel
from ..request import as_bool, links
from ..router import Collection, Router
from .cluster import SYSTEM_POLICIES
from .common import perform, stable_uuid, svm_ref, timestamp
from .licensing import require_licence

TRANSFER_STATES_ABORT = ("aborted", "hard_aborted")


def endpoint(vol, cluster) -> dict[str, Any]:
    return {"path": vol.path, "svm": svm_ref(vol.svm), "cluster": {"name": cluster.name, "uuid": cluster.uuid}}


def transfer_record(rel: Relationship, transfer: Transfer) -> dict[str, Any]:
    record = {"uuid": transfer.uuid, "state": transfer.state, "type": transfer.kind,
              "bytes_transferred": transfer.bytes_transferred, "snapshot": transfer.snapshot.name,
              "relationship": {"uuid": rel.uuid, "destination": {"path": rel.destination.path}},
              "_links": links(f"/api/snapmirror/relationships/{rel.uuid}/transfers/{transfer.uuid}")}
    if transfer.end_time is not None:
        record["end_time"] = timestamp(transfer.end_time)
    if transfer.error:
        record["error_info"] = {"message": transfer.error}
    return record


def policy_ref(name: str) -> dict[str, Any]:
    if name not in SYSTEM_POLICIES:
        raise OntapError(f'SnapMirror policy "{name}" does not exist.', INVALID_VALUE, target="policy.name")
    return {"name": name, "uuid": stable_uuid("snapmirror-policy", name), "type": SYSTEM_POLICIES[name]}


class Relationships(Collection):
    path = "/api/snapmirror/relationships"
    model, family = ResourceModel("SnapmirrorRelationship"), "snapmirror"
    identity = ("uuid", "source.path", "destination.path")
    ignore = frozenset({"force", "list_destinations_only", "failback"})

    def objects(self, request):
        return list(request.cluster.relationships.values())

    def find(self, request):
        return request.cluster.relationship(request.params["uuid"])

    def render(self, request, rel: Relationship) -> dict[str, Any]:
        request.cluster.advance_transfer(rel)
        record = {"uuid": rel.uuid, "source": endpoint(rel.source, rel.source_cluster),
                  "destination": endpoint(rel.destination, request.cluster), "state": rel.state,
                  "healthy": rel.healthy, "policy": policy_ref(rel.policy), "restore": rel.restore,
                  "group_type": "none", "exported_snapshot": rel.exported_snapshot,
                  "last_transfer_type": rel.last_transfer_type, "lag_time": rel.lag_time(),
                  "_links": links(f"/api/snapmirror/relationships/{rel.uuid}")}
        if rel.unhealthy_reason:
            record["unhealthy_reason"] = [{"message": rel.unhealthy_reason}]
        if rel.transfer is not None:
            record["transfer"] = {k: v for k, v in transfer_record(rel, rel.transfer).items()
                                  if k in ("uuid", "state", "type", "bytes_transferred", "end_time", "_links")}
        return {k: v for k, v in record.items() if v not in (None, "")}

    def create(self, request):
        cluster = request.cluster
        source, destination = request.required("source.path"), request.required("destination.path")
        policy = request.field("policy.name", "Asynchronous")
        policy_ref(policy)
        restore = as_bool(request.field("restore", False), "restore")
        create_destination = as_bool(request.field("create_destination.enabled", False), "create_destination.enabled")
        initialize = request.field("state") in ("snapmirrored", "in_sync")
        uuid = new_uuid()

        def action():
            rel = cluster.create_relationship(source, destination, source_cluster=request.field("source.cluster.name"),
                                              policy=policy, restore=restore, create_destination=create_destination,
                                              uuid=uuid)
            if initialize:
                cluster.start_transfer(rel)
        location = f"/api/snapmirror/relationships/{uuid}"
        return perform(request, action, True, location=location, records=[{"uuid": uuid, "_links": links(location)}])

    def modify(self, request, rel: Relationship):
        cluster = request.cluster
        state = request.field("state")
        new_source, new_destination = request.field("source.path"), request.field("destination.path")
        reverse = new_source is not None and new_destination is not None and \
            (new_source, new_destination) == (rel.destination.path, rel.source.path)
        if (new_source or new_destination) and not reverse and \
                (new_source, new_destination) != (rel.source.path, rel.destination.path):
            raise OntapError("Only swapping source and destination (a reverse resync) may change the paths.",
                             INVALID_VALUE, target="source.path")
        if state not in (None, "snapmirrored", "in_sync", "paused", "broken_off"):
            raise OntapError(f'"{state}" is an invalid value for field "state".', INVALID_VALUE, target="state")
        policy = request.field("policy.name")
        if policy is not None:
            policy_ref(policy)
        force = request.flag("force")

        def action():
            if policy is not None:
                rel.policy = policy
            if reverse:
                cluster.reverse(rel)
            elif state in ("snapmirrored", "in_sync"):
                if rel.state == "uninitialized":
                    cluster.start_transfer(rel)
                elif rel.state == "broken_off":
                    cluster.resync(rel)
                else:
                    cluster.resume(rel)
            elif state == "paused":
                cluster.quiesce(rel)
            elif state == "broken_off":
                cluster.break_off(rel, force=force)
        return perform(request, action, True)

    def remove(self, request, rel: Relationship):
        return perform(request, lambda: request.cluster.delete_relationship(rel), True)


class Transfers(Collection):
    path = "/api/snapmirror/relationships/{relationship.uuid}/transfers"
    model, family = ResourceModel("SnapmirrorTransfer"), "snapmirror_transfer"
    identity = ("uuid",)

    def _relationship(self, request) -> Relationship:
        rel = request.cluster.relationship(request.params["relationship.uuid"])
        request.cluster.advance_transfer(rel)
        return rel

    def objects(self, request):
        rel = self._relationship(request)
        return [(rel, t) for t in rel.transfers]

    def find(self, request):
        rel = self._relationship(request)
        for transfer in rel.transfers:
            if transfer.uuid == request.params["uuid"]:
                return rel, transfer
        raise not_found(f"transfer {request.params['uuid']}")

    def render(self, request, pair):
        return transfer_record(*pair)

    def create(self, request):
        cluster, rel = request.cluster, self._relationship(request)
        require_licence(cluster, "snapvault" if rel.policy in VAULT_POLICIES else "snapmirror")  # on the destination
        source_snapshot = request.field("source_snapshot")
        files = request.field("files") or []
        if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("source_path") for f in files):
            raise OntapError("Every file needs a source_path.", INVALID_VALUE, target="files")
        uuid = new_uuid()
        location = f"/api/snapmirror/relationships/{rel.uuid}/transfers/{uuid}"
        return perform(request, lambda: cluster.start_transfer(rel, source_snapshot, files, uuid=uuid), True,
                       location=location, records=[{"uuid": uuid, "_links": links(location)}])

    def modify(self, request, pair):
        rel, transfer = pair
        if request.field("state") not in TRANSFER_STATES_ABORT:
            raise OntapError('A transfer can only be PATCHed to state "aborted" or "hard_aborted".', INVALID_VALUE,
                             target="state")
        return perform(request, lambda: request.cluster.abort_transfer(rel, transfer), True)


def register(router: Router) -> None:
    router.add_collection(Relationships())
    router.add_collection(Transfers())
