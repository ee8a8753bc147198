"""The ONTAP side of the world: clusters, SVMs, volumes, snapshots, LUNs, SAN maps, SnapMirror, CGs.

The model carries data, not just metadata: a LUN holds a `LunContent` (what Windows sees), a snapshot
freezes a copy of every LUN of its volume, and restore, FlexClone, LUN clone, single-file restore and
SnapMirror transfers copy those frozen images back out. Copies are cheap because file bytes are
immutable and shared, so a snapshot costs no time.

Every method runs with `world.lock` held (the REST server and the Windows side take it). Failures
raise `OntapError` carrying ONTAP's error code; the REST layer turns it into an error body, or into a
failed job for asynchronous operations.

Peering: a SnapMirror relationship lives on its destination cluster and names its source as
"svm:volume". A cluster resolves that path on itself and then on `peers` (name -> StorageCluster),
which the topology fills with `peer_with()`; it stands for ONTAP's cluster and SVM peering.

Timing: `transfer_polls` makes a SnapMirror transfer stay "transferring" for that many reads of its
relationship (`advance_transfer`), so a test can catch a relationship mid-transfer; 0 (the default)
completes every transfer at once.
"""
from __future__ import annotations

import datetime
import secrets
import string
import uuid as uuidlib
from dataclasses import dataclass, field

from .files import LunContent

# ONTAP error codes (see shared/reference/ontap-rest.md section 4). Codes the reference marks as
# unverified (duplicate names, snapshot limit, no common snapshot) use the generic ones.
ENTRY_NOT_FOUND = 4
DUPLICATE_ENTRY = 1
INVALID_VALUE = 2
SNAPSHOT_BUSY = 1638555
RW_VOLUMES_ONLY = 1638521
VOLUME_BUSY = 524486
LUN_MAP_EXISTS = 5374922
CG_SNAPSHOT_EXISTS = 53411921
DP_NOT_INITIALIZED = 917536
TRANSFER_IN_PROGRESS = 13303812
BREAK_DURING_TRANSFER = 13303808

LUN_OS_TYPES = ("aix", "hpux", "hyper_v", "linux", "netware", "openvms", "solaris", "solaris_efi",
                "vmware", "windows", "windows_2008", "windows_gpt", "xen")
IGROUP_OS_TYPES = ("aix", "hpux", "hyper_v", "linux", "netware", "openvms", "solaris", "vmware",
                   "windows", "xen")
IGROUP_PROTOCOLS = ("fcp", "iscsi", "mixed")
SERIAL_ALPHABET = string.ascii_letters + string.digits


class OntapError(Exception):
    """An ONTAP failure: `code` is ONTAP's error code, `status` the HTTP status when it is not a job."""

    def __init__(self, message: str, code: int, status: int = 400, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.target = target


def not_found(what: str, target: str = "uuid") -> OntapError:
    return OntapError(f"entry doesn't exist: {what}", ENTRY_NOT_FOUND, status=404, target=target)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).astimezone()


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def new_serial() -> str:
    # Random alphanumerics: 62**12 values keeps serials unique across every cluster of a lab.
    return "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(12))


def parse_version(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in version.split(".")]
    return tuple((parts + [0, 0, 0])[:3])  # type: ignore[return-value]


@dataclass(eq=False)
class Svm:
    name: str
    uuid: str = field(default_factory=new_uuid)


@dataclass(eq=False)
class Aggregate:
    name: str
    size: int
    uuid: str = field(default_factory=new_uuid)


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

    @property
    def path(self) -> str:
        return f"/vol/{self.volume.name}/{self.name}"

    def image(self) -> "LunImage":
        return LunImage(self.name, self.uuid, self.serial, self.size, self.os_type, self.comment,
                        self.content.copy())


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


@dataclass(eq=False)
class Transfer:
    kind: str  # initialize | update | resync | restore
    snapshot: Snapshot  # the source snapshot being sent
    files: list[dict] = field(default_factory=list)  # restore of single LUN files: [{source_path, destination_path}]
    state: str = "transferring"  # transferring | success | failed | aborted
    polls_left: int = 0
    bytes_transferred: int = 0
    end_time: datetime.datetime | None = None
    error: str = ""
    uuid: str = field(default_factory=new_uuid)


@dataclass(eq=False)
class Relationship:
    """A SnapMirror relationship, held by the destination cluster."""

    source_cluster: "StorageCluster"
    source: Volume
    destination: Volume
    policy: str = "Asynchronous"
    state: str = "uninitialized"  # uninitialized | snapmirrored | paused | broken_off
    restore: bool = False
    uuid: str = field(default_factory=new_uuid)
    transfer: Transfer | None = None  # the running or the last transfer
    transfers: list[Transfer] = field(default_factory=list)
    last_transfer_type: str = ""
    exported_snapshot: str = ""  # newest snapshot both ends share: the base of the next update
    exported_snapshot_time: datetime.datetime | None = None
    unhealthy_reason: str = ""

    @property
    def transferring(self) -> bool:
        return self.transfer is not None and self.transfer.state == "transferring"

    @property
    def healthy(self) -> bool:
        return not self.unhealthy_reason

    def lag_time(self) -> str | None:
        """ISO 8601 duration since the exported snapshot, as ONTAP reports lag."""
        if self.exported_snapshot_time is None:
            return None
        seconds = max(0, int((now() - self.exported_snapshot_time).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        return f"PT{hours}H{rest // 60}M{rest % 60}S"


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


class StorageCluster:
    """One simulated ONTAP cluster (a single node named <name>-01)."""

    def __init__(self, name: str, version: str = "9.13.1", *, site: str = "", username: str = "admin",
                 password: str = "netapp123", uuid: str | None = None) -> None:
        self.name = name
        self.version = version
        self.site = site
        self.username = username
        self.password = password
        self.uuid = uuid or new_uuid()
        self.svms: dict[str, Svm] = {}
        self.aggregates: dict[str, Aggregate] = {}
        self.volumes: dict[str, Volume] = {}  # uuid -> Volume, creation order
        self.igroups: dict[str, Igroup] = {}  # uuid -> Igroup
        self.lun_maps: list[LunMap] = []
        self.relationships: dict[str, Relationship] = {}  # uuid -> Relationship (this is the destination)
        self.consistency_groups: dict[str, ConsistencyGroup] = {}
        self.jobs: dict[str, object] = {}  # uuid -> ontap.jobs.Job (the REST layer owns job semantics)
        self.job_polls = 0  # polls a job answers "running" before it lands; 0 = done at once
        self.transfer_polls = 0  # reads a SnapMirror transfer stays "transferring"; 0 = done at once
        self.peers: dict[str, StorageCluster] = {}

    # -- persona ------------------------------------------------------------------------------
    @property
    def version_tuple(self) -> tuple[int, int, int]:
        return parse_version(self.version)

    def at_least(self, version: str) -> bool:
        return self.version_tuple >= parse_version(version)

    def snapshot_limit(self, volume: Volume) -> int:
        """Per-volume snapshot limit (KB: 255 up to 9.3, 1023 since 9.4, minus 4 on a mirror destination)."""
        mirrored = self.relationship_for_destination(volume) is not None
        if self.at_least("9.4"):
            return 1019 if mirrored else 1023
        return 254 if mirrored else 255

    def peer_with(self, other: "StorageCluster") -> None:
        self.peers[other.name] = other
        other.peers[self.name] = self

    # -- SVMs and aggregates ------------------------------------------------------------------
    def add_svm(self, name: str) -> Svm:
        if name in self.svms:
            raise OntapError(f'Duplicate SVM name "{name}".', DUPLICATE_ENTRY, target="name")
        self.svms[name] = svm = Svm(name)
        return svm

    def add_aggregate(self, name: str, size_bytes: int) -> Aggregate:
        if name in self.aggregates:
            raise OntapError(f'Duplicate aggregate name "{name}".', DUPLICATE_ENTRY, target="name")
        self.aggregates[name] = aggr = Aggregate(name, size_bytes)
        return aggr

    def svm(self, name: str | None = None, uuid: str | None = None) -> Svm:
        for svm in self.svms.values():
            if (name is None or svm.name == name) and (uuid is None or svm.uuid == uuid):
                return svm
        raise OntapError(f'SVM "{name or uuid}" does not exist.', ENTRY_NOT_FOUND, status=404, target="svm")

    # -- volumes ------------------------------------------------------------------------------
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
                                         comment=image.comment)
        return clone

    def split_clone(self, vol: Volume) -> None:
        if vol.clone_parent is None:
            raise OntapError(f'Volume "{vol.name}" is not a FlexClone volume.', INVALID_VALUE,
                             target="clone.split_initiated")
        vol.clone_parent = None

    def clones_of(self, vol: Volume) -> list[Volume]:
        return [v for v in self.volumes.values() if v.clone_parent is not None and v.clone_parent.volume is vol]

    # -- snapshots ----------------------------------------------------------------------------
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
        """Volume SnapRestore: contents, LUN set and size go back; every newer snapshot is deleted."""
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
            lun = Lun(name, vol, image.size, image.os_type, image.content.copy(), comment=image.comment)
            if keep_identity and self.lun_by_serial(image.serial) is None:
                lun.serial, lun.uuid = image.serial, image.uuid
            vol.luns[name] = lun
        else:
            lun.content = image.content.copy()
            lun.size, lun.os_type = image.size, image.os_type
        return lun

    def restore_file(self, vol: Volume, snap: Snapshot, path: str, restore_path: str = "") -> Lun:
        """Single-file SnapRestore of a LUN file (`volume snapshot restore-file`)."""
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

    # -- LUNs ---------------------------------------------------------------------------------
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
                   comment: str = "") -> Lun:
        vol = self.volume(volume_name, svm)
        self._check_new_lun(vol, lun_name)
        if os_type not in LUN_OS_TYPES:
            raise OntapError(f'Invalid os_type "{os_type}".', INVALID_VALUE, target="os_type")
        if size <= 0:
            raise OntapError("LUN size must be positive.", INVALID_VALUE, target="space.size")
        lun = Lun(lun_name, vol, int(size), os_type, content or LunContent(partition_style="RAW"),
                  uuid=uuid or new_uuid(), comment=comment)
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
                  uuid: str | None = None) -> Lun:
        """LUN clone from `/vol/<vol>/.snapshot/<snap>/<lun>` (or a live LUN) into the same volume."""
        vol, image, snap = self._clone_source(source_path, svm)
        dest_vol, dest_name = split_lun_path(destination_path)
        if dest_vol != vol.name:
            raise OntapError("A LUN clone must be created in the volume of its source.", INVALID_VALUE,
                             target="name")
        self._check_new_lun(vol, dest_name)
        lun = Lun(dest_name, vol, image.size, image.os_type, image.content.copy(), uuid=uuid or new_uuid(),
                  comment=image.comment, clone_source=snap, clone_source_path=source_path)
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

    # -- igroups and maps ---------------------------------------------------------------------
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

    # -- SnapMirror ---------------------------------------------------------------------------
    def resolve_path(self, path: str, cluster: str | None = None) -> tuple["StorageCluster", Volume]:
        """A "svm:volume" path on this cluster or a peer (ONTAP resolves it through SVM peering)."""
        svm, _, name = path.partition(":")
        candidates = [self, *self.peers.values()]
        if cluster:
            candidates = [c for c in candidates if c.name == cluster]
        for owner in candidates:
            if svm in owner.svms:
                return owner, owner.volume(name, svm)
        raise OntapError(f'SVM "{svm}" of path "{path}" is not on this cluster or a peered cluster.',
                         ENTRY_NOT_FOUND, status=404, target="path")

    def relationship(self, uuid: str) -> Relationship:
        if uuid not in self.relationships:
            raise not_found(f"SnapMirror relationship {uuid}")
        return self.relationships[uuid]

    def relationship_for_destination(self, vol: Volume) -> Relationship | None:
        return next((r for r in self.relationships.values() if r.destination is vol and not r.restore), None)

    def relationships_touching(self, vol: Volume) -> list[Relationship]:
        """Relationships (held here or on a peer) that have this volume at either end."""
        every = [r for c in (self, *self.peers.values()) for r in c.relationships.values()]
        return [r for r in every if r.source is vol or r.destination is vol]

    def create_relationship(self, source_path: str, destination_path: str, *, source_cluster: str | None = None,
                            policy: str = "Asynchronous", restore: bool = False, create_destination: bool = False,
                            uuid: str | None = None) -> Relationship:
        src_cluster, source = self.resolve_path(source_path, source_cluster)
        svm_name, _, vol_name = destination_path.partition(":")
        if create_destination and not any(v.name == vol_name and v.svm.name == svm_name
                                           for v in self.volumes.values()):
            self.create_volume(svm_name, vol_name, None, source.size, type="dp")
        owner, destination = self.resolve_path(destination_path)
        if owner is not self:
            raise OntapError(f'Destination "{destination_path}" is not on this cluster; create the relationship on '
                             "the destination cluster.", INVALID_VALUE, target="destination.path")
        if restore:
            if destination.type != "rw":
                raise OntapError("The destination of a restore relationship must be a read/write volume.",
                                 INVALID_VALUE, target="destination.path")
        elif destination.type != "dp":
            raise OntapError(f'Destination volume "{destination_path}" must be a data protection (DP) volume.',
                             INVALID_VALUE, target="destination.path")
        if any(r.destination is destination for r in self.relationships.values()):
            raise OntapError(f'A relationship with destination "{destination_path}" already exists.',
                             DUPLICATE_ENTRY, target="destination.path")
        rel = Relationship(src_cluster, source, destination, policy, restore=restore, uuid=uuid or new_uuid())
        self.relationships[rel.uuid] = rel
        return rel

    def start_transfer(self, rel: Relationship, source_snapshot: str | None = None,
                       files: list[dict] | None = None, *, uuid: str | None = None) -> Transfer:
        """POST transfers: initialize, update or restore, depending on the relationship."""
        if rel.transferring:
            raise OntapError("Another transfer is in progress.", TRANSFER_IN_PROGRESS)
        if rel.restore:
            snap = rel.source.snapshot(source_snapshot) if source_snapshot else self._newest(rel.source)
            return self._begin(rel, Transfer("restore", snap, files=list(files or []), uuid=uuid or new_uuid()))
        if rel.state in ("paused", "broken_off"):
            raise OntapError(f'Relationship is "{rel.state}"; resume or resync it before an update.',
                             INVALID_VALUE, target="state")
        kind = "initialize" if rel.state == "uninitialized" else "update"
        if source_snapshot:
            snap = rel.source.snapshot(source_snapshot)
        else:
            snap = rel.source_cluster._take_snapshot(rel.source, self._mirror_snapshot_name(rel))
        return self._begin(rel, Transfer(kind, snap, uuid=uuid or new_uuid()))

    @staticmethod
    def _mirror_snapshot_name(rel: Relationship) -> str:
        return f"snapmirror.{rel.uuid}_{rel.destination.uuid[:8]}.{now().strftime('%Y-%m-%d_%H%M%S%f')}"

    @staticmethod
    def _newest(vol: Volume) -> Snapshot:
        if not vol.snapshots:
            raise not_found(f'a snapshot in volume "{vol.name}"', target="source_snapshot")
        return vol.snapshots[-1]

    def _begin(self, rel: Relationship, transfer: Transfer) -> Transfer:
        rel.transfer = transfer
        rel.transfers.append(transfer)
        transfer.polls_left = self.transfer_polls
        if not transfer.polls_left:
            self._finish(rel)
        return transfer

    def advance_transfer(self, rel: Relationship) -> None:
        """One observation of a running transfer; it lands when `transfer_polls` reads have passed."""
        if rel.transferring:
            rel.transfer.polls_left -= 1
            if rel.transfer.polls_left <= 0:
                self._finish(rel)

    def _finish(self, rel: Relationship) -> None:
        transfer = rel.transfer
        try:
            if transfer.kind == "restore":
                self._apply_restore(rel, transfer)
            else:
                self._apply_mirror(rel, transfer.snapshot)
        except OntapError as exc:
            transfer.state, transfer.error = "failed", exc.message
            rel.unhealthy_reason = f"Transfer failed: {exc.message}"
        else:
            transfer.state = "success"
            rel.unhealthy_reason = ""
            rel.last_transfer_type = transfer.kind
        transfer.end_time = now()
        transfer.bytes_transferred = transfer.snapshot.size

    def _apply_mirror(self, rel: Relationship, snap: Snapshot) -> None:
        """The destination becomes the source snapshot, with every older source snapshot (MirrorAllSnapshots)."""
        dest, source = rel.destination, rel.source
        wanted = source.snapshots[:source.snapshots.index(snap) + 1]
        missing = [s for s in wanted if not dest.has_snapshot(s.name)]
        keep = [s for s in dest.snapshots if any(s.name == w.name for w in wanted)]
        limit = self.snapshot_limit(dest)
        if len(keep) + len(missing) > limit:
            raise OntapError(f'Destination volume "{dest.name}" would exceed its limit of {limit} Snapshot copies.',
                             INVALID_VALUE)
        self._load_images(dest, self._mirrored_images(dest, snap.luns))
        dest.size = max(dest.size, snap.volume_size)
        for s in missing:
            keep.append(Snapshot(s.name, dest, self._mirrored_images(dest, s.luns), s.volume_size,
                                 create_time=s.create_time, comment=s.comment,
                                 snapmirror_label=s.snapmirror_label))
        order = {w.name: i for i, w in enumerate(wanted)}
        dest.snapshots = sorted(keep, key=lambda s: order[s.name])
        previous = rel.exported_snapshot
        rel.exported_snapshot, rel.exported_snapshot_time = snap.name, snap.create_time
        if rel.state == "uninitialized":
            rel.state = "snapmirrored"
        # The old base is no longer needed by this relationship: ONTAP deletes its own snapmirror.* copies.
        if previous and previous != snap.name and previous.startswith("snapmirror."):
            for vol, owner in ((source, rel.source_cluster), (dest, self)):
                if vol.has_snapshot(previous):
                    old = vol.snapshot(previous)
                    if not owner.snapshot_owners(old):
                        vol.snapshots.remove(old)

    def _mirrored_images(self, dest: Volume, images: dict[str, LunImage]) -> dict[str, LunImage]:
        """Source LUN images re-identified for the destination: its LUNs keep their own serials."""
        result = {}
        for name, image in images.items():
            lun = dest.luns.get(name)
            serial, uuid = (lun.serial, lun.uuid) if lun else (new_serial(), new_uuid())
            result[name] = LunImage(name, uuid, serial, image.size, image.os_type, image.comment, image.content)
        return result

    def _apply_restore(self, rel: Relationship, transfer: Transfer) -> None:
        dest, images = rel.destination, transfer.snapshot.luns
        if transfer.files:
            for item in transfer.files:
                name = lun_file_name(rel.source, item["source_path"])
                if name not in images:
                    raise not_found(f'file "{item["source_path"]}" in snapshot "{transfer.snapshot.name}"')
                target = lun_file_name(dest, item.get("destination_path") or item["source_path"])
                self._restore_lun_image(dest, images[name], target, keep_identity=False)
        else:
            self._load_images(dest, self._mirrored_images(dest, images))
        del self.relationships[rel.uuid]  # a restore relationship goes away once its transfer succeeds

    def abort_transfer(self, rel: Relationship, transfer: Transfer) -> None:
        if transfer.state != "transferring":
            raise OntapError(f"Transfer {transfer.uuid} is not running.", INVALID_VALUE, target="state")
        transfer.state, transfer.end_time = "aborted", now()

    def quiesce(self, rel: Relationship) -> None:
        if rel.state == "broken_off":
            raise OntapError("A broken-off relationship cannot be quiesced.", INVALID_VALUE, target="state")
        if rel.state == "snapmirrored":  # an uninitialized or already paused relationship stays as it is
            rel.state = "paused"

    def resume(self, rel: Relationship) -> None:
        if rel.state == "paused":
            rel.state = "snapmirrored"

    def break_off(self, rel: Relationship, force: bool = False) -> None:
        if rel.transferring:
            if not force:
                raise OntapError("SnapMirror break failed: a transfer is in progress. Quiesce the relationship and "
                                 "wait for the transfer to end, or use force.", BREAK_DURING_TRANSFER)
            self.abort_transfer(rel, rel.transfer)
        if rel.state == "uninitialized":
            raise OntapError(f'Destination volume "{rel.destination.path}" has not been initialized.',
                             DP_NOT_INITIALIZED)
        rel.state = "broken_off"
        rel.destination.type = "rw"

    def resync(self, rel: Relationship) -> Transfer:
        """broken_off -> snapmirrored: the destination rolls back to the newest common snapshot, then updates."""
        if rel.transferring:
            raise OntapError("Another transfer is in progress.", TRANSFER_IN_PROGRESS)
        dest, source = rel.destination, rel.source
        common = [s for s in dest.snapshots if source.has_snapshot(s.name)]
        if not common:
            raise OntapError(f'No common Snapshot copy between "{source.path}" and "{dest.path}"; resync is not '
                             "possible.", INVALID_VALUE)
        base = common[-1]
        del dest.snapshots[dest.snapshots.index(base) + 1:]
        self._load_images(dest, base.luns)
        dest.type = "dp"
        rel.state = "snapmirrored"
        rel.exported_snapshot, rel.exported_snapshot_time = base.name, base.create_time
        transfer = Transfer("resync", rel.source_cluster._take_snapshot(source, self._mirror_snapshot_name(rel)))
        return self._begin(rel, transfer)

    def reverse(self, rel: Relationship) -> Relationship:
        """Reverse resync: the old source becomes the destination, so the relationship moves to its cluster."""
        if rel.state != "broken_off":
            raise OntapError("Only a broken-off relationship can be reversed.", INVALID_VALUE, target="state")
        new_home = rel.source_cluster
        del self.relationships[rel.uuid]
        rel.source_cluster, rel.source, rel.destination = self, rel.destination, rel.source
        new_home.relationships[rel.uuid] = rel
        new_home.resync(rel)
        return rel

    def delete_relationship(self, rel: Relationship) -> None:
        """Delete and release: the source drops this relationship's snapmirror.* base snapshots."""
        if rel.transferring:
            raise OntapError("Another transfer is in progress.", TRANSFER_IN_PROGRESS)
        del self.relationships[rel.uuid]
        rel.source.snapshots = [s for s in rel.source.snapshots if not s.name.startswith(f"snapmirror.{rel.uuid}_")]

    # -- consistency groups -------------------------------------------------------------------
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
