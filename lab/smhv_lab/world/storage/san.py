"""SAN access: igroups and LUN maps, and which LUNs an initiator sees."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .common import DUPLICATE_ENTRY, INVALID_VALUE, LUN_MAP_EXISTS, OntapError, new_uuid, not_found

if TYPE_CHECKING:
    from .cluster import Svm
    from .luns import Lun

IGROUP_OS_TYPES = ("aix", "hpux", "hyper_v", "linux", "netware", "openvms", "solaris", "vmware",
                   "windows", "xen")
IGROUP_PROTOCOLS = ("fcp", "iscsi", "mixed")


@dataclass(eq=False)
class Igroup:
    name: str
    svm: Svm
    os_type: str
    protocol: str
    initiators: list[str] = field(default_factory=list)
    comment: str = ""
    uuid: str = field(default_factory=new_uuid)


@dataclass(eq=False)
class LunMap:
    lun: Lun
    igroup: Igroup
    lun_id: int


class SanMixin:
    """The igroup and LUN map operations of `StorageCluster`."""

    def igroup(self, name: str | None = None, svm: str | None = None, uuid: str | None = None) -> Igroup:
        for group in self.igroups.values():
            if (uuid is None or group.uuid == uuid) and (name is None or group.name == name) \
                    and (svm is None or group.svm.name == svm):
                return group
        raise not_found(f"igroup {name or uuid}", target="uuid" if uuid else "name")

    def create_igroup(self, svm: str, name: str, os_type: str = "hyper_v", protocol: str = "iscsi",
                      initiators: list[str] | None = None, *, comment: str = "", uuid: str | None = None) -> Igroup:
        owner = self.svm(svm)
        if any(g.name == name and g.svm is owner for g in self.igroups.values()):
            raise OntapError(f'Duplicate igroup name "{name}".', DUPLICATE_ENTRY, target="name")
        if os_type not in IGROUP_OS_TYPES:
            raise OntapError(f'"{os_type}" is an invalid value for field "os_type".', INVALID_VALUE, target="os_type")
        if protocol not in IGROUP_PROTOCOLS:
            raise OntapError(f'"{protocol}" is an invalid value for field "protocol".', INVALID_VALUE,
                             target="protocol")
        group = Igroup(name, owner, os_type, protocol, list(initiators or []), comment, uuid=uuid or new_uuid())
        self.igroups[group.uuid] = group
        return group

    def delete_igroup(self, group: Igroup, allow_mapped: bool = False) -> None:
        if any(m.igroup is group for m in self.lun_maps) and not allow_mapped:
            raise OntapError(f'igroup "{group.name}" has mapped LUNs; unmap them or pass '
                             "allow_delete_while_mapped.", INVALID_VALUE)
        self.lun_maps = [m for m in self.lun_maps if m.igroup is not group]
        del self.igroups[group.uuid]

    def maps_of(self, lun: Lun) -> list[LunMap]:
        return [m for m in self.lun_maps if m.lun is lun]

    def map_lun(self, lun_path: str, igroup_name: str, svm: str | None = None, lun_id: int | None = None) -> int:
        lun = self.lun(path=lun_path, svm=svm)
        group = self.igroup(igroup_name, lun.volume.svm.name)
        return self.map(lun, group, lun_id).lun_id

    def map(self, lun: Lun, group: Igroup, lun_id: int | None = None) -> LunMap:
        if any(m.lun is lun and m.igroup is group for m in self.lun_maps):
            raise OntapError(f'LUN "{lun.path}" is already mapped to igroup "{group.name}".', LUN_MAP_EXISTS)
        taken = {m.lun_id for m in self.lun_maps if m.igroup is group}
        if lun_id is None:
            lun_id = next(i for i in range(len(taken) + 1) if i not in taken)
        elif lun_id in taken:
            raise OntapError(f'LUN ID {lun_id} is already used in igroup "{group.name}".', DUPLICATE_ENTRY,
                             target="logical_unit_number")
        mapping = LunMap(lun, group, int(lun_id))
        self.lun_maps.append(mapping)
        return mapping

    def unmap(self, mapping: LunMap) -> None:
        self.lun_maps.remove(mapping)

    def luns_visible_to(self, initiator_iqn: str) -> list[tuple[Lun, int]]:
        iqn = initiator_iqn.lower()
        return [(m.lun, m.lun_id) for m in self.lun_maps if iqn in (i.lower() for i in m.igroup.initiators)]
