"""LUNs: create, LUN clone (from a snapshot or a live LUN), resize, rename, delete, and LUN paths.

A `LunImage` is a LUN frozen in a snapshot; restores and clones turn images back into LUNs.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..files import LunContent
from .common import DUPLICATE_ENTRY, INVALID_VALUE, OntapError, new_serial, new_uuid, not_found, now

if TYPE_CHECKING:
    from .snapshots import Snapshot
    from .volumes import Volume

LUN_OS_TYPES = ("aix", "hpux", "hyper_v", "linux", "netware", "openvms", "solaris", "solaris_efi",
                "vmware", "windows", "windows_2008", "windows_gpt", "xen")


@dataclass(eq=False)
class Lun:
    """A LUN: `name` is its file name in the volume, `path` the ONTAP name /vol/<volume>/<name>."""

    name: str
    volume: "Volume"
    size: int
    os_type: str
    content: LunContent
    serial: str = field(default_factory=new_serial)
    uuid: str = field(default_factory=new_uuid)
    comment: str = ""
    create_time: datetime.datetime = field(default_factory=now)
    clone_source: "Snapshot | None" = None  # the snapshot a LUN clone was made from (keeps it busy)
    clone_source_path: str = ""
    space_reserved: bool = False  # space.guarantee.requested: thick (True) or thin (ONTAP's REST default)

    @property
    def path(self) -> str:
        return f"/vol/{self.volume.name}/{self.name}"

    def image(self) -> "LunImage":
        return LunImage(self.name, self.uuid, self.serial, self.size, self.os_type, self.comment,
                        self.content.copy(), self.space_reserved)


@dataclass(frozen=True)
class LunImage:
    """A LUN frozen in a snapshot: metadata plus a private copy of its content."""

    name: str
    uuid: str
    serial: str
    size: int
    os_type: str
    comment: str
    content: LunContent
    space_reserved: bool = False


class LunsMixin:
    """The LUN operations of `StorageCluster`."""

    def _all_luns(self):
        for vol in self.volumes.values():
            yield from vol.luns.values()

    @property
    def luns(self) -> list[Lun]:
        return list(self._all_luns())

    def lun(self, path: str | None = None, uuid: str | None = None, svm: str | None = None) -> Lun:
        for lun in self._all_luns():
            if (uuid is None or lun.uuid == uuid) and (path is None or lun.path == path) \
                    and (svm is None or lun.volume.svm.name == svm):
                return lun
        raise not_found(f"LUN {path or uuid}", target="uuid" if uuid else "name")

    def lun_by_serial(self, serial: str) -> Lun | None:
        return next((lun for lun in self._all_luns() if lun.serial == serial), None)

    def create_lun(self, volume_name: str, lun_name: str, size: int, os_type: str = "hyper_v",
                   content: LunContent | None = None, svm: str | None = None, *, uuid: str | None = None,
                   comment: str = "", space_reserved: bool = False) -> Lun:
        vol = self.volume(volume_name, svm)
        self._check_new_lun(vol, lun_name)
        if os_type not in LUN_OS_TYPES:
            raise OntapError(f'Invalid os_type "{os_type}".', INVALID_VALUE, target="os_type")
        if size <= 0:
            raise OntapError("LUN size must be positive.", INVALID_VALUE, target="space.size")
        lun = Lun(lun_name, vol, int(size), os_type, content or LunContent(partition_style="RAW"),
                  uuid=uuid or new_uuid(), comment=comment, space_reserved=space_reserved)
        vol.luns[lun_name] = lun
        return lun

    def _check_new_lun(self, vol: Volume, lun_name: str) -> None:
        if vol.type == "dp":
            raise OntapError(f'Volume "{vol.name}" is a read-only data protection volume.', INVALID_VALUE,
                             target="location.volume")
        if not lun_name or "/" in lun_name:
            raise OntapError(f'Invalid LUN name "{lun_name}".', INVALID_VALUE, target="name")
        if lun_name in vol.luns:
            raise OntapError(f'LUN "/vol/{vol.name}/{lun_name}" already exists.', DUPLICATE_ENTRY, target="name")

    def clone_lun(self, source_path: str, destination_path: str, svm: str | None = None, *,
                  uuid: str | None = None, space_reserved: bool = False) -> Lun:
        """LUN clone from `/vol/<vol>/.snapshot/<snap>/<lun>` (or a live LUN) into the same volume."""
        vol, image, snap = self._clone_source(source_path, svm)
        dest_vol, dest_name = split_lun_path(destination_path)
        if dest_vol != vol.name:
            raise OntapError("A LUN clone must be created in the volume of its source.", INVALID_VALUE,
                             target="name")
        self._check_new_lun(vol, dest_name)
        lun = Lun(dest_name, vol, image.size, image.os_type, image.content.copy(), uuid=uuid or new_uuid(),
                  comment=image.comment, clone_source=snap, clone_source_path=source_path,
                  space_reserved=space_reserved)
        vol.luns[dest_name] = lun
        return lun

    def overwrite_lun_from_clone(self, lun: Lun, source_path: str) -> None:
        """PATCH clone.source: the LUN keeps its identity and maps, its bytes come from the source."""
        vol, image, snap = self._clone_source(source_path, lun.volume.svm.name)
        if vol is not lun.volume:
            raise OntapError("A LUN clone must be created in the volume of its source.", INVALID_VALUE,
                             target="clone.source.name")
        lun.content, lun.size = image.content.copy(), image.size
        lun.clone_source, lun.clone_source_path = snap, source_path

    def _clone_source(self, source_path: str, svm: str | None) -> tuple[Volume, LunImage, Snapshot | None]:
        parts = source_path.strip("/").split("/")
        if len(parts) == 5 and parts[0] == "vol" and parts[2] == ".snapshot":
            vol = self.volume(parts[1], svm)
            snap = vol.snapshot(parts[3])
            image = snap.luns.get(parts[4])
            if image is None:
                raise not_found(f"LUN {source_path}", target="clone.source.name")
            return vol, image, snap
        source = self.lun(path=source_path, svm=svm)
        return source.volume, source.image(), None

    def resize_lun(self, lun: Lun, size: int) -> None:
        if size < lun.size:
            raise OntapError("Shrinking a LUN is not supported by the lab.", INVALID_VALUE, target="space.size")
        lun.size = size

    def rename_lun(self, lun: Lun, new_path: str) -> None:
        vol_name, name = split_lun_path(new_path)
        if vol_name != lun.volume.name:
            raise OntapError("A LUN can only be renamed inside its volume.", INVALID_VALUE, target="name")
        self._check_new_lun(lun.volume, name)
        del lun.volume.luns[lun.name]
        lun.name = name
        lun.volume.luns[name] = lun

    def delete_lun(self, lun: Lun, allow_mapped: bool = False) -> None:
        if self.maps_of(lun) and not allow_mapped:
            raise OntapError(f'LUN "{lun.path}" is mapped; unmap it or pass allow_delete_while_mapped.',
                             INVALID_VALUE)
        self._drop_lun(lun)

    def _drop_lun(self, lun: Lun) -> None:
        self.lun_maps = [m for m in self.lun_maps if m.lun is not lun]
        del lun.volume.luns[lun.name]


def split_lun_path(path: str) -> tuple[str, str]:
    """'/vol/v/lun' -> ('v', 'lun'); qtrees are not modelled."""
    parts = path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "vol":
        raise OntapError(f'Invalid LUN path "{path}"; expected /vol/<volume>/<lun>.', INVALID_VALUE, target="name")
    return parts[1], parts[2]


def lun_file_name(vol: Volume, path: str) -> str:
    """A LUN's file name from a path inside the volume: 'lun', '/lun' or '/vol/<vol>/lun'."""
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "vol" and parts[1] == vol.name:
        return parts[2]
    if len(parts) == 1 and parts[0]:
        return parts[0]
    raise OntapError(f'Invalid file path "{path}" in volume "{vol.name}".', INVALID_VALUE, target="path")
