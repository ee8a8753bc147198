"""The backup engine's unit-test bench: the default lab world in-process, no network.

- hosts are the lab's AgentExecutor behind a HostClient-shaped fake (same requests, same answers);
- storage is a StorageClient-shaped fake over the world's ONTAP clusters (same models, same errors);
- the catalog is a Catalog over MemoryRepository with a clock the test moves.
Both fakes take faults: `fail(name, nth=1, code=..., times=1)` raises SmhvError on the Nth call of a
method (storage) or op (host), and `drop` makes a host call fail as a lost connection after it ran.
"""
from __future__ import annotations

import collections
import datetime
import types

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import BackupEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, DatasetMember, Scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import MemoryRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import (
    LunRef, MirrorRelationship, SnapshotDeletion, SnapshotInfo, SnapshotSet, TransferResult, VolumeInfo)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import snapinfo_snapshot_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from smhv_lab.hyperv import AgentExecutor
from smhv_lab.topology import build_world, load_topology
from smhv_lab.world.storage import OntapError

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 14, 9, tzinfo=UTC)


class Faults:
    def __init__(self):
        self.rules = []  # [name, nth, code, times, kind]
        self.counts = collections.Counter()

    def fail(self, name, nth=1, code="STORAGE_ERROR", times=1, kind="error"):
        self.rules.append([name, nth, code, times, kind])

    def check(self, name, after=False):
        """Raise for a matching rule; kind 'drop' fires after the work is done (`after`)."""
        if not after:
            self.counts[name] += 1
        for rule in self.rules:
            rule_name, nth, code, times, kind = rule
            if rule_name == name and self.counts[name] >= nth and times > 0 and (kind == "drop") == after:
                rule[3] -= 1
                if kind == "drop":
                    raise SmhvError("HOST_UNREACHABLE", "Injected: the connection dropped after %s ran; it may have run." % name,
                                    {"may_have_run": True})
                raise SmhvError(code, "Injected failure of %s." % name, {"injected": True})


class FakeHost:
    """A HostClient over the lab's AgentExecutor: same ops, same JSON, no WinRM."""

    def __init__(self, name, executor, faults):
        self.name = name
        self.executor = executor
        self.faults = faults
        self.calls = collections.Counter()

    def call(self, op, args=None, check_mode=False, timeout=None, retry_safe=None):
        self.calls[op] += 1
        self.faults.check(op)
        answer = self.executor.run_request(self.name, agent.encode_request(op, args or {}, check_mode))
        self.faults.check(op, after=True)
        if not answer["ok"]:
            error = answer["error"]
            raise SmhvError(error["code"], "%s (agent op %s on host %s)" % (error["message"], op, self.name), error["details"])
        assert agent.validate_result(op, answer["result"]) == [], (op, agent.validate_result(op, answer["result"]))
        return AgentReply(answer["result"], answer["changed"], answer["warnings"])


def _error(error, action):
    code = {1638555: "SNAPSHOT_BUSY", 1: "SNAPSHOT_EXISTS"}.get(error.code, "STORAGE_ERROR")
    if error.status == 404:
        code = "STORAGE_OBJECT_NOT_FOUND"
    return SmhvError(code, "Could not %s: %s" % (action, error.message), {"ontap_code": error.code})


class WorldStorage:
    """What the backup engine asks of StorageClient, answered from the world's ONTAP clusters."""

    def __init__(self, world, faults):
        self.world = world
        self.faults = faults
        self.snapmirror = WorldMirror(self)

    def _cluster(self, name):
        return self.world.clusters[name]

    def _volume(self, info):
        return self._cluster(info.cluster).volume(uuid=info.volume_uuid if hasattr(info, "volume_uuid") else info.uuid)

    @staticmethod
    def volume_info(cluster, vol):
        return VolumeInfo(cluster=cluster.name, svm=vol.svm.name, name=vol.name, uuid=vol.uuid, type=vol.type, state=vol.state,
                          snapshot_count=len(vol.snapshots), size=vol.size, available=vol.size - vol.used)

    @staticmethod
    def snapshot_info(cluster, snap):
        vol = snap.volume
        return SnapshotInfo(cluster=cluster.name, svm=vol.svm.name, volume_name=vol.name, volume_uuid=vol.uuid, name=snap.name,
                            uuid=snap.uuid, create_time=snap.create_time, comment=snap.comment, snapmirror_label=snap.snapmirror_label,
                            owners=tuple(cluster.snapshot_owners(snap)))

    def reachable_clusters(self):
        return list(self.world.clusters), []

    def find_luns_by_serials(self, serials):
        self.faults.check("find_luns_by_serials")
        found = {}
        for serial in serials:
            cluster, lun = self.world.find_lun_by_serial(serial)
            if lun is not None:
                found[serial] = LunRef(cluster.name, lun.volume.svm.name, lun.volume.name, lun.volume.uuid, lun.uuid, lun.path, serial,
                                       lun.size, lun.os_type)
        return found

    def get_volumes(self, cluster, uuids):
        self.faults.check("get_volumes")
        return [self.volume_info(self._cluster(cluster), self._cluster(cluster).volume(uuid=uuid)) for uuid in uuids]

    def get_volume(self, cluster, svm, name):
        self.faults.check("get_volume")
        return self.volume_info(self._cluster(cluster), self._cluster(cluster).volume(name, svm))

    def snapshot_limit(self, volume):
        return self._cluster(volume.cluster).snapshot_limit(self._volume(volume))

    def list_snapshots(self, volume, name_pattern=None):
        self.faults.check("list_snapshots")
        cluster = self._cluster(volume.cluster)
        return [self.snapshot_info(cluster, s) for s in cluster.volume(uuid=volume.uuid).snapshots]

    def create_snapshots(self, volumes, name, comment="", snapmirror_label="", consistency_group=True):
        self.faults.check("create_snapshots")
        taken = []
        try:
            for volume in volumes:
                cluster = self._cluster(volume.cluster)
                snap = cluster.create_snapshot(volume.name, name, comment, snapmirror_label, svm=volume.svm)
                taken.append(self.snapshot_info(cluster, snap))
                self.faults.check("create_snapshots:volume")
        except (OntapError, SmhvError) as error:
            self.delete_snapshots(taken)
            raise error if isinstance(error, SmhvError) else _error(error, "create snapshot %s" % name) from None
        groups = ("%s/%s" % (volumes[0].cluster, volumes[0].svm),) if consistency_group and len(volumes) > 1 else ()
        return SnapshotSet(name=name, snapshots=tuple(taken), consistency_groups=groups)

    def rename_snapshot(self, snapshot, name, comment=None, snapmirror_label=None):
        self.faults.check("rename_snapshot")
        cluster = self._cluster(snapshot.cluster)
        snap = cluster.volume(uuid=snapshot.volume_uuid).snapshot(snapshot.name)
        cluster.rename_snapshot(snap, name)
        if snapmirror_label is not None:
            snap.snapmirror_label = snapmirror_label
        return self.snapshot_info(cluster, snap)

    def delete_snapshots(self, snapshots):
        deleted, busy, failed = [], [], []
        for snapshot in snapshots:
            try:
                self.faults.check("delete_snapshot")
                cluster = self._cluster(snapshot.cluster)
                vol = cluster.volume(uuid=snapshot.volume_uuid)
                if vol.has_snapshot(snapshot.name):
                    cluster.delete_snapshot(vol.snapshot(snapshot.name))
                deleted.append(snapshot)
            except OntapError as error:
                problem = _error(error, "delete snapshot %s" % snapshot.name)
                (busy if problem.code == "SNAPSHOT_BUSY" else failed).append((snapshot, problem))
            except SmhvError as error:
                failed.append((snapshot, error))
        return SnapshotDeletion(tuple(deleted), tuple(busy), tuple(failed))


class WorldMirror:
    def __init__(self, storage):
        self.storage = storage

    def find(self, source_path=None, destination_path=None):
        self.storage.faults.check("snapmirror.find")
        paths = [source_path] if isinstance(source_path, str) else list(source_path)
        found = []
        for cluster in self.storage.world.clusters.values():
            for rel in cluster.relationships.values():
                if rel.source.path in paths:
                    found.append(MirrorRelationship(cluster=cluster.name, uuid=rel.uuid, source_path=rel.source.path,
                                                    destination_path=rel.destination.path, source_cluster=rel.source_cluster.name,
                                                    state=rel.state, healthy=rel.healthy, policy_name=rel.policy,
                                                    policy_type="vault" if rel.policy == "XDPDefault" else "async",
                                                    exported_snapshot=rel.exported_snapshot))
        return found

    def _rel(self, relationship):
        return self.storage.world.clusters[relationship.cluster].relationships[relationship.uuid]

    def update(self, relationship, source_snapshot=None, wait=True):
        self.storage.faults.check("snapmirror.update")
        rel = self._rel(relationship)
        transfer = self.storage.world.clusters[relationship.cluster].start_transfer(rel, source_snapshot)
        return TransferResult(relationship.uuid, transfer.state, transfer.uuid, source_snapshot)

    def wait_for_transfer(self, relationship, transfer_uuid):
        rel = self._rel(relationship)
        cluster = self.storage.world.clusters[relationship.cluster]
        while rel.transferring:
            cluster.advance_transfer(rel)
        return TransferResult(relationship.uuid, rel.transfer.state, transfer_uuid, rel.transfer.snapshot.name,
                              rel.transfer.bytes_transferred)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)

    def tick(self, seconds=60):
        self.now += datetime.timedelta(seconds=seconds)


class Bench:
    """The world, its hosts and storage with faults, a catalog per scope, and backup runs."""

    def __init__(self):
        self.world = build_world(load_topology())
        self.executor = AgentExecutor(self.world)
        self.faults = Faults()
        self.hosts = {name: FakeHost(name, self.executor, self.faults) for name in self.world.hosts}
        self.storage = WorldStorage(self.world, self.faults)
        self.clock = Clock()
        self.catalogs = {}
        self.snapinfo_taken = []

    # -- scopes and datasets ----------------------------------------------------------------------
    def scope(self, name):
        cluster = self.world.failover_clusters.get(name)
        nodes = list(cluster.nodes) if cluster else [name]
        coordinator = self.hosts[cluster.owner_node if cluster else name]
        facts = coordinator.call("host_facts").result
        return types.SimpleNamespace(name=name, kind="cluster" if cluster else "standalone", coordinator=coordinator,
                                     coordinator_facts=facts, node_clients=lambda: {n: self.hosts[n] for n in nodes})

    def catalog(self, scope):
        if scope not in self.catalogs:
            catalog = Catalog(MemoryRepository(), clock=self.clock, sleep=self.clock.sleep)
            nodes = tuple(self.world.failover_clusters[scope].nodes) if scope in self.world.failover_clusters else (scope,)
            catalog.initialize(Scope(scope, "cluster" if len(nodes) > 1 else "standalone", nodes, "S:\\SnapInfo", "C:\\SMHV\\Reports"))
            self.catalogs[scope] = catalog
        return self.catalogs[scope]

    def vm(self, name):
        for host in self.world.hosts.values():
            for vm in host.vms.values():
                if vm.name == name:
                    return vm
        raise KeyError(name)

    def dataset(self, scope, name, vm_names):
        members = tuple(DatasetMember(self.vm(vm).id, scope, vm) for vm in vm_names)
        self.catalog(scope).put_dataset(Dataset(name, members=members))

    # -- runs -------------------------------------------------------------------------------------
    def snapinfo_step(self, scope):
        def take(when, mirror, check_mode):
            name = snapinfo_snapshot_name(scope, when)
            self.faults.check("snapinfo")
            self.world.clusters["cluster-a"].create_snapshot("vol_snapinfo", name)
            self.snapinfo_taken.append(name)
            return name
        return take

    def engine(self, scope, **kwargs):
        return BackupEngine(self.scope(scope), self.storage, self.catalog(scope), self.snapinfo_step(scope), clock=self.clock,
                            sleep=self.clock.sleep, **kwargs)

    def run(self, scope, dataset, options, check_mode=False, **kwargs):
        self.clock.tick()
        return self.engine(scope, **kwargs).run(dataset, options, check_mode=check_mode)

    # -- what is left -----------------------------------------------------------------------------
    def snapshots(self, volume, cluster="cluster-a"):
        """Snapshot names of a volume, oldest first, without SnapMirror's own (snapmirror.*)."""
        return [s.name for s in self.world.clusters[cluster].volume(volume).snapshots if not s.name.startswith("snapmirror.")]

    def checkpoints(self):
        return {vm.name: [c.name for c in vm.checkpoints] for host in self.world.hosts.values() for vm in host.vms.values() if vm.checkpoints}


@pytest.fixture
def bench():
    return Bench()
