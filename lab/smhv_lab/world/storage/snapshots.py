"""Snapshots: the per-volume limit, create, delete, rename, volume SnapRestore, single-file restore and
file clone. A snapshot freezes a `LunImage` of every LUN of its volume; restores copy those images
back out.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .common import DUPLICATE_ENTRY, INVALID_VALUE, RW_VOLUMES_ONLY, SNAPSHOT_BUSY, OntapError, new_uuid, not_found, now
from .luns import Lun, LunImage, lun_file_name

if TYPE_CHECKING:
    from .volumes import Volume


@dataclass(eq=False)
class Snapshot:
    name: str
    volume: "Volume"
    luns: dict[str, LunImage]
    volume_size: int
    create_time: datetime.datetime = field(default_factory=now)
    comment: str = ""
    snapmirror_label: str = ""
    expiry_time: datetime.datetime | None = None
    uuid: str = field(default_factory=new_uuid)

    @property
    def size(self) -> int:
        return sum(image.content.files.size() for image in self.luns.values())


class SnapshotsMixin:
    """The snapshot operations of `StorageCluster`."""

    def snapshot_limit(self, volume: Volume) -> int:
        """Per-volume snapshot limit (KB: 255 up to 9.3, 1023 since 9.4, minus 4 on a mirror destination)."""
        mirrored = self.relationship_for_destination(volume) is not None
        if self.at_least("9.4"):
            return 1019 if mirrored else 1023
        return 254 if mirrored else 255

    def create_snapshot(self, volume_name: str, snap_name: str, comment: str = "", snapmirror_label: str = "",
                        expiry_time: datetime.datetime | None = None, *, svm: str | None = None,
                        uuid: str | None = None) -> Snapshot:
        vol = self.volume(volume_name, svm)
        if vol.type == "dp":
            raise OntapError(f'Snapshot copies can only be created on read/write volumes; "{vol.name}" is a '
                             "data protection volume.", RW_VOLUMES_ONLY)
        return self._take_snapshot(vol, snap_name, comment, snapmirror_label, expiry_time, uuid=uuid)

    def _take_snapshot(self, vol: Volume, name: str, comment: str = "", snapmirror_label: str = "",
                       expiry_time: datetime.datetime | None = None, *, uuid: str | None = None,
                       create_time: datetime.datetime | None = None) -> Snapshot:
        if vol.has_snapshot(name):
            raise OntapError(f'Snapshot copy "{name}" already exists in volume "{vol.name}".', DUPLICATE_ENTRY,
                             target="name")
        limit = self.snapshot_limit(vol)
        if len(vol.snapshots) >= limit:
            raise OntapError(f'Failed to create Snapshot copy "{name}" on volume "{vol.name}": the maximum '
                             f"number of Snapshot copies ({limit}) for the volume has been reached.",
                             INVALID_VALUE)
        snap = Snapshot(name, vol, {n: lun.image() for n, lun in vol.luns.items()}, vol.size,
                        create_time=create_time or now(), comment=comment, snapmirror_label=snapmirror_label,
                        expiry_time=expiry_time, uuid=uuid or new_uuid())
        vol.snapshots.append(snap)
        return snap

    def snapshot_owners(self, snap: Snapshot) -> list[str]:
        """Why a snapshot cannot be deleted (ONTAP's snapshot `owners`); empty when it can."""
        vol = snap.volume
        owners = []
        if any(v.clone_parent is snap for v in self.volumes.values()):
            owners.append("volume_clone")
        if any(lun.clone_source is snap for lun in self._all_luns()):
            owners.append("lun_clone")
        if any(rel.exported_snapshot == snap.name for rel in self.relationships_touching(vol)):
            owners.append("snapmirror")
        if snap.expiry_time is not None and snap.expiry_time > now():
            owners.append("expiry_time")
        return owners

    def delete_snapshot(self, snap: Snapshot) -> None:
        self._check_deletable(snap)
        snap.volume.snapshots.remove(snap)

    def _check_deletable(self, snap: Snapshot) -> None:
        owners = self.snapshot_owners(snap)
        if owners:
            raise OntapError(f'Snapshot copy "{snap.name}" of volume "{snap.volume.name}" on Vserver '
                             f'"{snap.volume.svm.name}" has not expired or is locked (owners: {", ".join(owners)}).'
                             ' Use the "snapshot show -fields owners, expiry-time, snaplock-expiry-time" command'
                             " to view details.", SNAPSHOT_BUSY)

    def rename_snapshot(self, snap: Snapshot, name: str) -> None:
        if snap.volume.has_snapshot(name):
            raise OntapError(f'Snapshot copy "{name}" already exists in volume "{snap.volume.name}".',
                             DUPLICATE_ENTRY, target="name")
        snap.name = name

    def restore_volume(self, vol: Volume, snap: Snapshot) -> None:
        """Volume SnapRestore: contents, LUN set and size go back; every newer snapshot is deleted. A SnapMirror destination
        (read-only until the relationship is broken) cannot be restored."""
        _writable(vol, "restored")
        newer = vol.snapshots[vol.snapshots.index(snap) + 1:]
        for later in newer:
            owners = self.snapshot_owners(later)
            if owners:
                raise OntapError(f'Cannot restore volume "{vol.name}" to "{snap.name}": newer Snapshot copy '
                                 f'"{later.name}" is busy (owners: {", ".join(owners)}).', SNAPSHOT_BUSY)
        del vol.snapshots[len(vol.snapshots) - len(newer):]
        self._load_images(vol, snap.luns)
        vol.size = snap.volume_size

    def _load_images(self, vol: Volume, images: dict[str, LunImage]) -> None:
        """Make the volume's LUNs exactly the images: surviving LUNs keep identity and maps."""
        for name in [n for n in vol.luns if n not in images]:
            self._drop_lun(vol.luns[name])
        for image in images.values():
            self._restore_lun_image(vol, image, image.name, keep_identity=True)

    def _restore_lun_image(self, vol: Volume, image: LunImage, name: str, keep_identity: bool) -> Lun:
        lun = vol.luns.get(name)
        if lun is None:
            lun = Lun(name, vol, image.size, image.os_type, image.content.copy(), comment=image.comment,
                      space_reserved=image.space_reserved)
            if keep_identity and self.lun_by_serial(image.serial) is None:
                lun.serial, lun.uuid = image.serial, image.uuid
            vol.luns[name] = lun
        else:
            lun.content = image.content.copy()
            lun.size, lun.os_type, lun.space_reserved = image.size, image.os_type, image.space_reserved
        return lun

    def restore_file(self, vol: Volume, snap: Snapshot, path: str, restore_path: str = "") -> Lun:
        """Single-file SnapRestore of a LUN file (`volume snapshot restore-file`); not on a SnapMirror destination that is
        not broken (a data protection volume is read-only)."""
        _writable(vol, "restored from a Snapshot copy")
        image = snap.luns.get(lun_file_name(vol, path))
        if image is None:
            raise not_found(f'file "{path}" in snapshot "{snap.name}" of volume "{vol.name}"', target="path")
        target = lun_file_name(vol, restore_path) if restore_path else image.name
        return self._restore_lun_image(vol, image, target, keep_identity=target == image.name)

    def clone_file(self, vol: Volume, source_path: str, destination_path: str, overwrite: bool = False) -> Lun:
        """File clone (`/api/storage/file/clone`): source may be `.snapshot/<snap>/<lun>` or a live LUN."""
        parts = source_path.strip("/").split("/")
        if parts[0] == ".snapshot" and len(parts) == 3:
            image = vol.snapshot(parts[1]).luns.get(parts[2])
        elif len(parts) == 1 and parts[0] in vol.luns:
            image = vol.luns[parts[0]].image()
        else:
            image = None
        if image is None:
            raise not_found(f'file "{source_path}" in volume "{vol.name}"', target="source_path")
        target = lun_file_name(vol, destination_path)
        if target in vol.luns:
            if not overwrite:
                raise OntapError(f'File "{destination_path}" already exists in volume "{vol.name}".',
                                 DUPLICATE_ENTRY, target="destination_path")
            self._drop_lun(vol.luns[target])
        return self._restore_lun_image(vol, image, target, keep_identity=False)


def _writable(vol: "Volume", what: str) -> None:
    if vol.type == "dp":
        raise OntapError(f'Volume "{vol.name}" is a data protection volume (a SnapMirror destination) and cannot be {what}; '
                         "break the relationship first.", RW_VOLUMES_ONLY)
