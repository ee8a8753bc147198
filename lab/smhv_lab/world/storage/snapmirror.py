"""SnapMirror: relationships, transfers, quiesce/resume, break, resync, reverse and delete.

Peering: a SnapMirror relationship lives on its destination cluster and names its source as
"svm:volume". A cluster resolves that path on itself and then on `peers` (name -> StorageCluster),
which the topology fills with `peer_with()`; it stands for ONTAP's cluster and SVM peering.

Timing: `transfer_polls` makes a SnapMirror transfer stay "transferring" for that many reads of its
relationship (`advance_transfer`), so a test can catch a relationship mid-transfer; 0 (the default)
completes every transfer at once.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .common import (BREAK_DURING_TRANSFER, DP_NOT_INITIALIZED, DUPLICATE_ENTRY, ENTRY_NOT_FOUND, INVALID_VALUE,
                     TRANSFER_IN_PROGRESS, OntapError, new_serial, new_uuid, not_found, now)
from .luns import LunImage, lun_file_name
from .snapshots import Snapshot

if TYPE_CHECKING:
    from .cluster import StorageCluster
    from .volumes import Volume

# Vault policies (the CLI's type vault; REST: async with create_snapshot_on_source false) and the snapshots each keeps
# on its destination: label -> count. XDPDefault's rules as ONTAP creates it (daily 7, weekly 52).
VAULT_POLICIES = {"XDPDefault": {"daily": 7, "weekly": 52}}


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


class SnapMirrorMixin:
    """The SnapMirror operations of `StorageCluster` (this cluster is the destination)."""

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
        elif rel.policy in VAULT_POLICIES:  # a vault takes no snapshot on the source: it sends the newest there is
            snap = self._newest(rel.source)
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
        """The destination becomes the source snapshot, with every older source snapshot (MirrorAllSnapshots); a vault
        adds the source snapshots its rules' labels name and keeps its own, the newest `count` of each label."""
        dest, source = rel.destination, rel.source
        wanted = source.snapshots[:source.snapshots.index(snap) + 1]
        vault = VAULT_POLICIES.get(rel.policy)
        if vault is not None:
            wanted = [s for s in wanted if s.snapmirror_label in vault or s is snap]
        missing = [s for s in wanted if not dest.has_snapshot(s.name)]
        keep = [s for s in dest.snapshots if vault is not None or any(s.name == w.name for w in wanted)]
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
        if vault is not None:
            for label, count in vault.items():
                labelled = sorted((s for s in keep if s.snapmirror_label == label), key=lambda s: s.create_time)
                keep = [s for s in keep if s not in labelled[:max(0, len(labelled) - count)]]
            dest.snapshots = sorted(keep, key=lambda s: s.create_time)
        else:
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
            result[name] = LunImage(name, uuid, serial, image.size, image.os_type, image.comment, image.content,
                                    image.space_reserved)
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
