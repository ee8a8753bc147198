"""`StorageCluster`: one simulated ONTAP cluster, composed of a mixin per resource family.

The cluster owns all the state (the dicts and lists set in `__init__`); each mixin holds the
operations of one family and reaches the others through `self`, because ONTAP's rules cross families
(a volume with a SnapMirror relationship cannot be deleted, a LUN clone keeps its snapshot busy).
SVMs, aggregates, the persona (version) and peering live here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .common import DUPLICATE_ENTRY, ENTRY_NOT_FOUND, OntapError, new_uuid, parse_version
from .consistency_groups import ConsistencyGroup, ConsistencyGroupsMixin
from .luns import LunsMixin
from .san import Igroup, LunMap, SanMixin
from .snapmirror import Relationship, SnapMirrorMixin
from .snapshots import SnapshotsMixin
from .volumes import Volume, VolumesMixin


@dataclass(eq=False)
class Svm:
    name: str
    uuid: str = field(default_factory=new_uuid)


@dataclass(eq=False)
class Aggregate:
    name: str
    size: int
    uuid: str = field(default_factory=new_uuid)


class StorageCluster(VolumesMixin, SnapshotsMixin, LunsMixin, SanMixin, SnapMirrorMixin, ConsistencyGroupsMixin):
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
        self.job_profile = "realistic"  # how long jobs take: a profile of ontap/jobs.py, "realistic" or "instant"
        self.job_durations: dict[str, float] = {}  # seconds per operation, over the profile (ontap/jobs.py)
        self.job_polls = 0  # polls a job answers "running" before it lands, whatever its duration
        self.transfer_polls = 0  # reads a SnapMirror transfer stays "transferring"; 0 = done at once
        self.peers: dict[str, StorageCluster] = {}
        self.ems_events: list[dict] = []  # what EMS logged, oldest first (the REST layer renders them)
        self.unlicensed: set[str] = set()  # licence packages taken away (ontap/resources/licensing.py); all others are licensed

    # -- persona and peering ------------------------------------------------------------------
    @property
    def version_tuple(self) -> tuple[int, int, int]:
        return parse_version(self.version)

    def at_least(self, version: str) -> bool:
        return self.version_tuple >= parse_version(version)

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
