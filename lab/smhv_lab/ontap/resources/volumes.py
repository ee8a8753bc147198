"""/api/storage/volumes and their snapshots: create, FlexClone and split, restore_to, rename, resize."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ...world.storage import ENTRY_NOT_FOUND, INVALID_VALUE, OntapError, Snapshot, Volume, new_uuid
from ..model import ResourceModel
from ..request import as_bool, links
from ..router import Collection, Router
from .common import (body_svm, body_volume, choice, parse_time, perform, positive_int, referenced, svm_ref, timestamp,
                     volume_ref)
from .licensing import require_licence

DEFAULT_VOLUME_SIZE = 20 * 1024 * 1024  # ONTAP's default when POST gives no size


def snapshot_by_ref(vol: Volume, ref: dict[str, Any], target: str) -> Snapshot:
    if not isinstance(ref, dict) or not (ref.get("name") or ref.get("uuid")):
        raise OntapError(f'Field "{target}" needs a snapshot name or uuid.', INVALID_VALUE, target=target)
    return referenced(lambda: vol.snapshot(ref.get("name"), ref.get("uuid")), target)


class Volumes(Collection):
    path = "/api/storage/volumes"
    model, family = ResourceModel("Volume"), "volume"
    expensive = frozenset({"clone"})
    ignore = frozenset({"force"})

    def objects(self, request):
        return list(request.cluster.volumes.values())

    def find(self, request):
        return request.cluster.volume(uuid=request.params["uuid"])

    def render(self, request, vol: Volume) -> dict[str, Any]:
        cluster = request.cluster
        parent = vol.clone_parent
        clone: dict[str, Any] = {"is_flexclone": parent is not None, "split_initiated": False,
                                 "has_flexclone": bool(cluster.clones_of(vol))}
        if parent is not None:
            clone.update(parent_volume=volume_ref(parent.volume), parent_svm=svm_ref(parent.volume.svm),
                         parent_snapshot={"name": parent.name, "uuid": parent.uuid})
        used = vol.used
        return {
            "uuid": vol.uuid, "name": vol.name, "svm": svm_ref(vol.svm), "state": vol.state, "type": vol.type,
            "style": "flexvol", "size": vol.size, "comment": vol.comment, "create_time": timestamp(vol.create_time),
            "aggregates": [{"name": vol.aggregate.name, "uuid": vol.aggregate.uuid}],
            "space": {"size": vol.size, "used": used, "available": max(0, vol.size - used),
                      "percent_used": int(100 * used / vol.size) if vol.size else 0,
                      "snapshot": {"reserve_percent": vol.snapshot_reserve_percent,
                                   "used": sum(s.size for s in vol.snapshots)},
                      "logical_space": {"enforcement": False, "reporting": False}},
            "snapshot_count": len(vol.snapshots), "snapshot_policy": {"name": vol.snapshot_policy},
            "guarantee": {"type": vol.guarantee},
            "nas": {"path": vol.junction_path, "security_style": "ntfs"} if vol.junction_path else
                   {"security_style": "ntfs"},
            "encryption": {"enabled": False}, "efficiency": {"compression": "none"}, "tiering": {"policy": "none"},
            "snaplock": {"type": "non_snaplock"}, "files": {"maximum": max(1, vol.size // 32768)},
            "clone": clone, "_links": links(f"/api/storage/volumes/{vol.uuid}"),
        }

    def create(self, request):
        cluster = request.cluster
        svm = body_svm(request)
        name = request.required("name")
        uuid = new_uuid()
        if request.field("clone.parent_volume") is not None:
            require_licence(request.cluster, "flexclone")
            parent = body_volume(request, "clone.parent_volume", svm.name)
            snap_ref = request.field("clone.parent_snapshot")
            parent_snapshot = snapshot_by_ref(parent, snap_ref, "clone.parent_snapshot") if snap_ref else None

            def action():
                cluster.clone_volume(svm.name, name, parent, parent_snapshot, uuid=uuid)
        else:
            aggr = self._aggregate_name(request)
            size = positive_int(request.field("size", DEFAULT_VOLUME_SIZE), "size")
            kind = choice(request, "type", ("rw", "dp"), "rw")

            def action():
                vol = cluster.create_volume(svm.name, name, aggr, size, kind, uuid=uuid,
                                            comment=request.field("comment", ""),
                                            snapshot_policy=request.field("snapshot_policy.name", "default"),
                                            guarantee=request.field("guarantee.type", "volume"),
                                            junction_path=request.field("nas.path", ""))
                vol.state = request.field("state", "online")
        # Real ONTAP answers async creates with a query-form Location; the uuid is learnt afterwards.
        location = f"/api/storage/volumes/?name={quote(name)}&svm.name={quote(svm.name)}"
        record = {"uuid": uuid, "name": name, "_links": links(f"/api/storage/volumes/{uuid}")}
        return perform(request, action, True, location=location, records=[record])

    @staticmethod
    def _aggregate_name(request) -> str:
        aggregates = request.field("aggregates")
        if not aggregates or not isinstance(aggregates, list) or not isinstance(aggregates[0], dict):
            raise OntapError('Missing value for required field "aggregates".', INVALID_VALUE, target="aggregates")
        wanted = aggregates[0]
        for aggr in request.cluster.aggregates.values():
            if aggr.name == wanted.get("name") or aggr.uuid == wanted.get("uuid"):
                return aggr.name
        raise OntapError(f"Aggregate {wanted} does not exist.", ENTRY_NOT_FOUND, target="aggregates")

    def modify(self, request, vol: Volume):
        cluster, body = request.cluster, request.body
        restore = request.field("restore_to.snapshot")
        target = snapshot_by_ref(vol, restore, "restore_to.snapshot") if restore is not None else None
        if target is not None:
            require_licence(cluster, "snaprestore")
        split = as_bool(request.field("clone.split_initiated"), "clone.split_initiated") \
            if request.field("clone.split_initiated") is not None else False
        state = choice(request, "state", ("online", "offline", "restricted"), vol.state)
        size = positive_int(body["size"], "size") if "size" in body else None

        def action():
            if target is not None:
                cluster.restore_volume(vol, target)
            if split:
                cluster.split_clone(vol)
            if "name" in body:
                cluster.rename_volume(vol, body["name"])
            if size is not None:
                cluster.resize_volume(vol, size)
            vol.state = state
            vol.comment = body.get("comment", vol.comment)
            vol.snapshot_policy = request.field("snapshot_policy.name", vol.snapshot_policy)
            vol.guarantee = request.field("guarantee.type", vol.guarantee)
            vol.junction_path = request.field("nas.path", vol.junction_path)
            vol.snapshot_reserve_percent = int(request.field("space.snapshot.reserve_percent",
                                                             vol.snapshot_reserve_percent))
        return perform(request, action, True)

    def remove(self, request, vol: Volume):
        return perform(request, lambda: request.cluster.delete_volume(vol), True)


class Snapshots(Collection):
    path = "/api/storage/volumes/{volume.uuid}/snapshots"
    model, family = ResourceModel("Snapshot"), "snapshot"

    def _volume(self, request) -> Volume:
        return request.cluster.volume(uuid=request.params["volume.uuid"])

    def objects(self, request):
        return list(self._volume(request).snapshots)

    def find(self, request):
        return self._volume(request).snapshot(uuid=request.params["uuid"])

    def render(self, request, snap: Snapshot) -> dict[str, Any]:
        vol = snap.volume
        record = {"uuid": snap.uuid, "name": snap.name, "create_time": timestamp(snap.create_time),
                  "comment": snap.comment, "volume": volume_ref(vol), "svm": svm_ref(vol.svm),
                  "owners": request.cluster.snapshot_owners(snap), "size": snap.size, "state": "valid",
                  "version_uuid": snap.uuid,
                  "_links": links(f"/api/storage/volumes/{vol.uuid}/snapshots/{snap.uuid}")}
        if snap.snapmirror_label:
            record["snapmirror_label"] = snap.snapmirror_label
        if snap.expiry_time is not None:
            record["expiry_time"] = timestamp(snap.expiry_time)
        return record

    @staticmethod
    def _label(request) -> str | None:
        label = request.field("snapmirror_label")
        if label is not None and not 0 < len(label) <= 31:
            raise OntapError("snapmirror_label must be 1 to 31 characters long.", INVALID_VALUE,
                             target="snapmirror_label")
        return label

    def create(self, request):
        cluster, vol = request.cluster, self._volume(request)
        name = request.required("name")
        label = self._label(request) or ""
        expiry = request.field("expiry_time")
        expiry_time = parse_time(expiry, "expiry_time") if expiry else None
        uuid = new_uuid()

        def action():
            cluster.create_snapshot(vol.name, name, request.field("comment", ""), label, expiry_time,
                                    svm=vol.svm.name, uuid=uuid)
        base = f"/api/storage/volumes/{vol.uuid}/snapshots"
        record = {"uuid": uuid, "name": name, "_links": links(f"{base}/{uuid}")}
        return perform(request, action, True, location=f"{base}/?name={quote(name)}", records=[record])

    def modify(self, request, snap: Snapshot):
        cluster, body = request.cluster, request.body
        label = self._label(request)
        expiry = body.get("expiry_time")
        expiry_time = parse_time(expiry, "expiry_time") if expiry else None

        def action():
            if "name" in body and body["name"] != snap.name:
                cluster.rename_snapshot(snap, body["name"])
            snap.comment = body.get("comment", snap.comment)
            if label is not None:
                snap.snapmirror_label = label
            if "expiry_time" in body:
                snap.expiry_time = expiry_time
        return perform(request, action, True)

    def remove(self, request, snap: Snapshot):
        return perform(request, lambda: request.cluster.delete_snapshot(snap), True)


def register(router: Router) -> None:
    router.add_collection(Volumes())
    router.add_collection(Snapshots())
