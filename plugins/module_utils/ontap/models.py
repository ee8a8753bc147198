# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed values StorageClient hands to the engines (and takes back from them).

Plain frozen dataclasses with no library objects inside, so engines, the catalog and unit-test fakes
can build, compare and serialise them (`dataclasses.asdict`) without netapp-ontap. Every object
names the ONTAP cluster it lives on by cluster name, the key StorageClient routes calls with.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Optional

# ONTAP 9.10.1 introduced the consistency-group API and its multi-volume snapshots.
CG_SNAPSHOT_MIN_VERSION = (9, 10, 1)
# Snapshot copies per volume (NetApp KB "Maximum number of snapshots supported by ONTAP"): 255 up
# to ONTAP 9.3, 1023 since 9.4; a SnapMirror destination keeps a few slots for transfers.
LARGE_SNAPSHOT_LIMIT_VERSION = (9, 4, 0)


@dataclass(frozen=True)
class ClusterIdentity:
    """One configured storage system, as GET /api/cluster describes it."""

    name: str
    uuid: str
    version: tuple
    hostname: str
    port: int

    @property
    def supports_cg_snapshots(self) -> bool:
        return self.version >= CG_SNAPSHOT_MIN_VERSION

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)


@dataclass(frozen=True)
class LunRef:
    """A LUN found by its serial number: where it lives and what a backup needs to know about it."""

    cluster: str
    svm: str
    volume_name: str
    volume_uuid: str
    lun_uuid: str
    path: str
    serial: str
    size: int
    os_type: str


@dataclass(frozen=True)
class VolumeInfo:
    """A FlexVol with the facts backup planning needs: type, snapshot count and space, clone parent."""

    cluster: str
    svm: str
    name: str
    uuid: str
    type: str
    state: str
    snapshot_count: int
    size: int
    available: int
    is_flexclone: bool = False
    clone_parent_volume: Optional[str] = None
    clone_parent_snapshot: Optional[str] = None

    @property
    def path(self) -> str:
        """The SnapMirror endpoint path, "svm:volume"."""
        return "%s:%s" % (self.svm, self.name)

    @property
    def is_mirror_destination(self) -> bool:
        return self.type == "dp"


@dataclass(frozen=True)
class SnapshotInfo:
    """A volume snapshot. `uuid` is None for the member snapshots of a consistency-group snapshot,
    whose per-volume uuids ONTAP does not return; StorageClient looks them up by name when needed.
    `create_time` is None for a snapshot this client has just created (no extra GET is spent on it)."""

    cluster: str
    svm: str
    volume_name: str
    volume_uuid: str
    name: str
    uuid: Optional[str] = None
    create_time: Optional[datetime.datetime] = None
    comment: str = ""
    snapmirror_label: str = ""
    expiry_time: Optional[datetime.datetime] = None
    owners: tuple = ()

    @property
    def volume_path(self) -> str:
        return "%s:%s" % (self.svm, self.volume_name)


@dataclass(frozen=True)
class SnapshotSet:
    """The snapshots one create_snapshots() call took, one per volume, all with the same name.

    `consistency_groups` names the "cluster/svm" groups whose volumes were captured together by one
    consistency-group snapshot; `notes` says why a group of volumes was not (old ONTAP, a volume
    already in another consistency group), for the engine to pass on as warnings."""

    name: str
    snapshots: tuple
    consistency_groups: tuple = ()
    notes: tuple = ()


@dataclass(frozen=True)
class SnapshotDeletion:
    """What delete_snapshots() did: it tries every snapshot and reports instead of raising.

    `busy` and `failed` hold (SnapshotInfo, SmhvError) pairs; busy snapshots are in use by a clone,
    a SnapMirror transfer base or an unexpired expiry time and may be retried later."""

    deleted: tuple = ()
    busy: tuple = ()
    failed: tuple = ()

    @property
    def complete(self) -> bool:
        return not self.busy and not self.failed


@dataclass(frozen=True)
class IgroupRef:
    """An initiator group; `created` says whether ensure_igroup() had to create it."""

    cluster: str
    svm: str
    name: str
    uuid: str
    os_type: str
    initiators: tuple = ()
    created: bool = False


@dataclass(frozen=True)
class LunMapping:
    """A LUN mapped to an igroup with the LUN id hosts see; `created` is False when it already was."""

    lun: LunRef
    igroup: IgroupRef
    lun_id: int
    created: bool = True


@dataclass(frozen=True)
class MirrorRelationship:
    """A SnapMirror or SnapVault relationship, as its destination cluster (`cluster`) reports it."""

    cluster: str
    uuid: str
    source_path: str
    destination_path: str
    source_cluster: str
    state: str
    healthy: bool
    policy_name: str = ""
    policy_type: str = ""
    transfer_state: Optional[str] = None
    transfer_uuid: Optional[str] = None
    exported_snapshot: Optional[str] = None
    lag_time: Optional[str] = None
    unhealthy_reasons: tuple = ()

    @property
    def transferring(self) -> bool:
        return self.transfer_state in ("queued", "transferring")


@dataclass(frozen=True)
class TransferResult:
    """The outcome of a SnapMirror/SnapVault transfer. `state` is ONTAP's final transfer state, or
    "unchanged" when the destination already held the requested snapshot and nothing was sent."""

    relationship_uuid: str
    state: str
    transfer_uuid: Optional[str] = None
    snapshot: Optional[str] = None
    bytes_transferred: int = 0
    end_time: Optional[datetime.datetime] = None
    kind: str = "update"

    @property
    def changed(self) -> bool:
        return self.state != "unchanged"
