"""Volumes: create, delete, resize, rename, FlexClone and clone split."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .common import DUPLICATE_ENTRY, ENTRY_NOT_FOUND, INVALID_VALUE, VOLUME_BUSY, OntapError, new_uuid, not_found, now
from .luns import Lun

if TYPE_CHECKING:
    from .cluster import Aggregate, Svm
    from .snapshots import Snapshot


@dataclass(eq=False)
class Volume:
    name: str
    svm: Svm
    aggregate: Aggregate
    size: int
    type: str = "rw"  # rw | dp
    uuid: str = field(default_factory=new_uuid)
    state: str = "online"
    comment: str = ""
    snapshot_policy: str = "default"
    guarantee: str = "volume"
    snapshot_reserve_percent: int = 5
    junction_path: str = ""
    create_time: datetime.datetime = field(default_factory=now)
    luns: dict[str, Lun] = field(default_factory=dict)  # LUN file name -> Lun
    snapshots: list[Snapshot] = field(default_factory=list)  # oldest first
    clone_parent: Snapshot | None = None  # set while a FlexClone still shares its parent snapshot

    @property
    def path(self) -> str:
        return f"{self.svm.name}:{self.name}"

    @property
    def used(self) -> int:
        return sum(lun.size for lun in self.luns.values())

    def snapshot(self, name: str | None = None, uuid: str | None = None) -> Snapshot:
        for snap in self.snapshots:
            if (uuid is None or snap.uuid == uuid) and (name is None or snap.name == name):
                return snap
        raise not_found(f'snapshot "{name or uuid}" in volume "{self.name}"')

    def has_snapshot(self, name: str) -> bool:
        return any(s.name == name for s in self.snapshots)


class VolumesMixin:
    """The volume operations of `StorageCluster`."""

    def volume(self, name: str | None = None, svm: str | None = None, uuid: str | None = None) -> Volume:
        if uuid is not None:
            if uuid in self.volumes:
                return self.volumes[uuid]
            raise not_found(f"volume {uuid}")
        found = [v for v in self.volumes.values() if v.name == name and (svm is None or v.svm.name == svm)]
        if not found:
            raise not_found(f'volume "{name}"' + (f' in SVM "{svm}"' if svm else ""), target="name")
        return found[0]

    def create_volume(self, svm: str, name: str, aggregate: str | None, size: int, type: str = "rw", *,
                      uuid: str | None = None, comment: str = "", snapshot_policy: str = "default",
                      guarantee: str = "volume", junction_path: str = "") -> Volume:
        owner = self.svm(svm)
        if any(v.name == name and v.svm is owner for v in self.volumes.values()):
            raise OntapError(f'Duplicate volume name "{name}" in SVM "{svm}".', DUPLICATE_ENTRY, target="name")
        if type not in ("rw", "dp"):
            raise OntapError(f'Invalid volume type "{type}".', INVALID_VALUE, target="type")
        if aggregate is None:
            if not self.aggregates:
                raise OntapError("No aggregate available for the volume.", INVALID_VALUE, target="aggregates")
            aggr = next(iter(self.aggregates.values()))
        elif aggregate in self.aggregates:
            aggr = self.aggregates[aggregate]
        else:
            raise OntapError(f'Aggregate "{aggregate}" does not exist.', ENTRY_NOT_FOUND, target="aggregates.name")
        vol = Volume(name, owner, aggr, int(size), type, uuid=uuid or new_uuid(), comment=comment,
                     snapshot_policy=snapshot_policy, guarantee=guarantee, junction_path=junction_path)
        self.volumes[vol.uuid] = vol
        return vol

    def delete_volume(self, vol: Volume) -> None:
        if any(v.clone_parent is not None and v.clone_parent.volume is vol for v in self.volumes.values()):
            raise OntapError(f'Volume "{vol.name}" has FlexClone volumes; delete or split them first.',
                             VOLUME_BUSY)
        if self.relationships_touching(vol):
            raise OntapError(f'Volume "{vol.name}" is in a SnapMirror relationship; delete it first.',
                             VOLUME_BUSY)
        for cg in self.consistency_groups.values():
            if vol in cg.volumes:
                raise OntapError(f'Volume "{vol.name}" is part of consistency group "{cg.name}".', VOLUME_BUSY)
        self.lun_maps = [m for m in self.lun_maps if m.lun.volume is not vol]
        del self.volumes[vol.uuid]

    def resize_volume(self, vol: Volume, size: int) -> None:
        if size < vol.used:
            raise OntapError(f'Volume "{vol.name}" cannot shrink below the {vol.used} bytes its LUNs use.',
                             INVALID_VALUE, target="size")
        vol.size = size

    def rename_volume(self, vol: Volume, name: str) -> None:
        if any(v.name == name and v.svm is vol.svm and v is not vol for v in self.volumes.values()):
            raise OntapError(f'Duplicate volume name "{name}".', DUPLICATE_ENTRY, target="name")
        vol.name = name

    def clone_volume(self, svm: str, name: str, parent: Volume, parent_snapshot: Snapshot | None = None, *,
                     uuid: str | None = None) -> Volume:
        """FlexClone: a new RW volume holding the parent snapshot's LUNs (new serials, unmapped)."""
        if parent_snapshot is None:
            stamp = now().strftime("%Y-%m-%d_%H%M%S")
            parent_snapshot = self._take_snapshot(parent, f"clone_{name}.{stamp}")
        clone = self.create_volume(svm, name, parent.aggregate.name, parent_snapshot.volume_size, uuid=uuid)
        clone.clone_parent = parent_snapshot
        for image in parent_snapshot.luns.values():
            clone.luns[image.name] = Lun(image.name, clone, image.size, image.os_type, image.content.copy(),
                                         comment=image.comment, space_reserved=image.space_reserved)
        return clone

    def split_clone(self, vol: Volume) -> None:
        if vol.clone_parent is None:
            raise OntapError(f'Volume "{vol.name}" is not a FlexClone volume.', INVALID_VALUE,
                             target="clone.split_initiated")
        vol.clone_parent = None

    def clones_of(self, vol: Volume) -> list[Volume]:
        return [v for v in self.volumes.values() if v.clone_parent is not None and v.clone_parent.volume is vol]
