"""The ONTAP side of the world: clusters, SVMs, volumes, snapshots, LUNs, SAN maps, SnapMirror, CGs.

The model carries data, not just metadata: a LUN holds a `LunContent` (what Windows sees), a snapshot
freezes a copy of every LUN of its volume, and restore, FlexClone, LUN clone, single-file restore and
SnapMirror transfers copy those frozen images back out. Copies are cheap because file bytes are
immutable and shared, so a snapshot costs no time.

Every method runs with `world.lock` held (the REST server and the Windows side take it). Failures
raise `OntapError` carrying ONTAP's error code; the REST layer turns it into an error body, or into a
failed job for asynchronous operations.

One module per resource family, each holding its resource classes and a mixin with its operations;
`cluster.StorageCluster` composes the mixins and owns the state:

    common              error codes, OntapError, ids and clocks
    cluster             Svm, Aggregate, StorageCluster (persona, peering, SVMs, aggregates)
    volumes             Volume; create, delete, resize, rename, FlexClone
    snapshots           Snapshot; limits, create, delete, SnapRestore, single-file restore, file clone
    luns                Lun, LunImage; create, LUN clone, resize, rename, delete; LUN paths
    san                 Igroup, LunMap; igroups, maps, what an initiator sees
    snapmirror          Relationship, Transfer; peering paths, transfers, break, resync, reverse
    consistency_groups  ConsistencyGroup, CgSnapshot; CG snapshots and restore

Import the public names from this package; the modules are its inside. The names also keep worlds
pickled before the split loading, since pickle finds `smhv_lab.world.storage.<Class>` here.
"""
from .cluster import Aggregate, StorageCluster, Svm
from .common import (BREAK_DURING_TRANSFER, CG_SNAPSHOT_EXISTS, DP_NOT_INITIALIZED, DUPLICATE_ENTRY, ENTRY_NOT_FOUND,
                     INVALID_VALUE, LUN_MAP_EXISTS, RW_VOLUMES_ONLY, SNAPSHOT_BUSY, TRANSFER_IN_PROGRESS, VOLUME_BUSY,
                     OntapError, new_serial, new_uuid, not_found, now, parse_version)
from .consistency_groups import CgSnapshot, ConsistencyGroup
from .luns import LUN_OS_TYPES, Lun, LunImage, lun_file_name, split_lun_path
from .san import IGROUP_OS_TYPES, IGROUP_PROTOCOLS, Igroup, LunMap
from .snapmirror import Relationship, Transfer
from .snapshots import Snapshot
from .volumes import Volume

__all__ = [
    "BREAK_DURING_TRANSFER", "CG_SNAPSHOT_EXISTS", "DP_NOT_INITIALIZED", "DUPLICATE_ENTRY", "ENTRY_NOT_FOUND",
    "IGROUP_OS_TYPES", "IGROUP_PROTOCOLS", "INVALID_VALUE", "LUN_MAP_EXISTS", "LUN_OS_TYPES", "RW_VOLUMES_ONLY",
    "SNAPSHOT_BUSY", "TRANSFER_IN_PROGRESS", "VOLUME_BUSY",
    "Aggregate", "CgSnapshot", "ConsistencyGroup", "Igroup", "Lun", "LunImage", "LunMap", "OntapError",
    "Relationship", "Snapshot", "StorageCluster", "Svm", "Transfer", "Volume",
    "lun_file_name", "new_serial", "new_uuid", "not_found", "now", "parse_version", "split_lun_path",
]
