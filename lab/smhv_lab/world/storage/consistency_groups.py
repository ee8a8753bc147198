"""Consistency groups: create and delete, and CG snapshots taken, deleted and restored across member volumes."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .common import CG_SNAPSHOT_EXISTS, DUPLICATE_ENTRY, INVALID_VALUE, OntapError, new_uuid, not_found, now

if TYPE_CHECKING:
    from .cluster import Svm
    from .volumes import Volume


@dataclass(eq=False)
class CgSnapshot:
    name: str
    create_time: datetime.datetime
    comment: str = ""
    snapmirror_label: str = ""
    consistency_type: str = "crash"
    uuid: str = field(default_factory=new_uuid)


@dataclass(eq=False)
class ConsistencyGroup:
    name: str
    svm: Svm
    volumes: list[Volume]
    snapshots: list[CgSnapshot] = field(default_factory=list)
    uuid: str = field(default_factory=new_uuid)


class ConsistencyGroupsMixin:
    """The consistency group operations of `StorageCluster`."""

    def consistency_group(self, uuid: str) -> ConsistencyGroup:
        if uuid not in self.consistency_groups:
            raise not_found(f"consistency group {uuid}")
        return self.consistency_groups[uuid]

    def create_consistency_group(self, svm: str, name: str, volume_names: list[str], *,
                                 uuid: str | None = None) -> ConsistencyGroup:
        owner = self.svm(svm)
        if any(cg.name == name and cg.svm is owner for cg in self.consistency_groups.values()):
            raise OntapError(f'Duplicate consistency group name "{name}".', DUPLICATE_ENTRY, target="name")
        volumes = [self.volume(v, svm) for v in volume_names]
        if not volumes:
            raise OntapError("A consistency group needs at least one volume.", INVALID_VALUE, target="volumes")
        for vol in volumes:
            for cg in self.consistency_groups.values():
                if vol in cg.volumes:
                    raise OntapError(f'Volume "{vol.name}" already belongs to consistency group "{cg.name}".',
                                     INVALID_VALUE, target="volumes")
        cg = ConsistencyGroup(name, owner, volumes, uuid=uuid or new_uuid())
        self.consistency_groups[cg.uuid] = cg
        return cg

    def delete_consistency_group(self, cg: ConsistencyGroup) -> None:
        """Deleting a CG keeps its volumes and their snapshots (ONTAP's default)."""
        del self.consistency_groups[cg.uuid]

    def create_cg_snapshot(self, cg: ConsistencyGroup, name: str, comment: str = "", snapmirror_label: str = "",
                           consistency_type: str = "crash", *, uuid: str | None = None) -> CgSnapshot:
        """One same-named snapshot per member volume, all or nothing, with one create_time."""
        if any(s.name == name for s in cg.snapshots) or any(v.has_snapshot(name) for v in cg.volumes):
            raise OntapError(f'Snapshot copy "{name}" already exists in consistency group "{cg.name}".',
                             CG_SNAPSHOT_EXISTS, target="name")
        for vol in cg.volumes:
            if len(vol.snapshots) >= self.snapshot_limit(vol):
                raise OntapError(f'Volume "{vol.name}" has reached its Snapshot copy limit.', INVALID_VALUE)
        stamp = now()
        for vol in cg.volumes:
            self._take_snapshot(vol, name, comment, snapmirror_label, create_time=stamp)
        snap = CgSnapshot(name, stamp, comment, snapmirror_label, consistency_type, uuid=uuid or new_uuid())
        cg.snapshots.append(snap)
        return snap

    def cg_snapshot(self, cg: ConsistencyGroup, uuid: str | None = None, name: str | None = None) -> CgSnapshot:
        for snap in cg.snapshots:
            if (uuid is None or snap.uuid == uuid) and (name is None or snap.name == name):
                return snap
        raise not_found(f"snapshot {uuid or name} of consistency group {cg.name}")

    def delete_cg_snapshot(self, cg: ConsistencyGroup, snap: CgSnapshot) -> None:
        members = [v.snapshot(snap.name) for v in cg.volumes if v.has_snapshot(snap.name)]
        for member in members:  # check every member first so a busy one deletes nothing
            self._check_deletable(member)
        for member in members:
            member.volume.snapshots.remove(member)
        cg.snapshots.remove(snap)

    def restore_consistency_group(self, cg: ConsistencyGroup, snap: CgSnapshot) -> None:
        missing = [v.name for v in cg.volumes if not v.has_snapshot(snap.name)]
        if missing:
            raise OntapError(f'Snapshot "{snap.name}" is missing from volumes {", ".join(missing)}; the consistency '
                             "group snapshot cannot be restored.", INVALID_VALUE)
        for vol in cg.volumes:
            self.restore_volume(vol, vol.snapshot(snap.name))
        cg.snapshots = cg.snapshots[:cg.snapshots.index(snap) + 1]
