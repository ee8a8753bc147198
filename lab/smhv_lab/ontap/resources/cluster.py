"""The cluster itself and what it serves read-only: nodes, SVMs and their peers, aggregates,
SnapMirror policies, and the jobs every asynchronous call leaves behind."""
from __future__ import annotations

from typing import Any

from ...world.storage import StorageCluster, not_found
from ...world.storage.snapmirror import VAULT_POLICIES
from .. import jobs, query
from ..model import ResourceModel
from ..request import Request, Response, links
from ..router import Collection, Router
from .common import stable_uuid, svm_ref

# ONTAP's built-in SnapMirror policies: they have no SVM, which is how clients tell them apart.
SYSTEM_POLICIES = {"Asynchronous": "async", "MirrorAllSnapshots": "async", "MirrorAndVault": "async", "XDPDefault": "async",
                   "DailyBackup": "async", "Sync": "sync", "StrictSync": "sync"}


def version(cluster: StorageCluster) -> dict[str, Any]:
    generation, major, minor = cluster.version_tuple
    return {"full": f"NetApp Release {cluster.version}: Mon Jan 01 00:00:00 UTC 2024",
            "generation": generation, "major": major, "minor": minor}


def node_name(cluster: StorageCluster) -> str:
    return f"{cluster.name}-01"


def get_cluster(request: Request) -> Response:
    cluster = request.cluster
    record = {"name": cluster.name, "uuid": cluster.uuid, "version": version(cluster),
              "location": cluster.site, "contact": "", "_links": links("/api/cluster")}
    return query.instance_response(request, record, ("uuid", "name"))


class Nodes(Collection):
    path = "/api/cluster/nodes"
    model = ResourceModel("Node")

    def objects(self, request):
        return [request.cluster]

    def find(self, request):
        if request.params["uuid"] != stable_uuid(request.cluster.uuid, "node"):
            raise not_found(f"node {request.params['uuid']}")
        return request.cluster

    def render(self, request, cluster):
        uuid = stable_uuid(cluster.uuid, "node")
        return {"uuid": uuid, "name": node_name(cluster), "version": version(cluster), "state": "up",
                "location": cluster.site, "_links": links(f"/api/cluster/nodes/{uuid}")}


class Jobs(Collection):
    path = "/api/cluster/jobs"
    model = ResourceModel("Job")
    identity = ("uuid",)

    def objects(self, request):
        jobs.expire(request.cluster)
        return list(request.cluster.jobs.values())

    def find(self, request):
        return jobs.lookup(request.cluster, request.params["uuid"])

    def get_instance(self, request):
        jobs.lookup(request.cluster, request.params["uuid"]).poll()  # a poll is what moves a slow job on
        return super().get_instance(request)

    def render(self, request, job):
        return job.record()


class Svms(Collection):
    path = "/api/svm/svms"
    model = ResourceModel("Svm")

    def objects(self, request):
        return list(request.cluster.svms.values())

    def find(self, request):
        return request.cluster.svm(uuid=request.params["uuid"])

    def render(self, request, svm):
        return {**svm_ref(svm), "state": "running", "subtype": "default"}


class SvmPeers(Collection):
    """Every local SVM is peered with every SVM of every peered cluster (the lab's idea of peering)."""

    path = "/api/svm/peers"
    model = ResourceModel("SvmPeer")

    def objects(self, request):
        cluster = request.cluster
        return [(svm, peer, remote) for svm in cluster.svms.values() for peer in cluster.peers.values()
                for remote in peer.svms.values()]

    def find(self, request):
        for pair in self.objects(request):
            if self._uuid(*pair) == request.params["uuid"]:
                return pair
        raise not_found(f"SVM peer {request.params['uuid']}")

    @staticmethod
    def _uuid(svm, peer, remote) -> str:
        return stable_uuid(svm.uuid, remote.uuid)

    def render(self, request, pair):
        svm, peer, remote = pair
        uuid = self._uuid(*pair)
        return {"uuid": uuid, "name": remote.name, "svm": svm_ref(svm), "state": "peered",
                "peer": {"svm": {"name": remote.name, "uuid": remote.uuid},
                         "cluster": {"name": peer.name, "uuid": peer.uuid}},
                "applications": ["snapmirror"], "_links": links(f"/api/svm/peers/{uuid}")}


class Aggregates(Collection):
    path = "/api/storage/aggregates"
    model = ResourceModel("Aggregate")

    def objects(self, request):
        return list(request.cluster.aggregates.values())

    def find(self, request):
        for aggr in request.cluster.aggregates.values():
            if aggr.uuid == request.params["uuid"]:
                return aggr
        raise not_found(f"aggregate {request.params['uuid']}")

    def render(self, request, aggr):
        used = sum(v.size for v in request.cluster.volumes.values() if v.aggregate is aggr)
        return {"uuid": aggr.uuid, "name": aggr.name, "state": "online",
                "node": {"name": node_name(request.cluster), "uuid": stable_uuid(request.cluster.uuid, "node")},
                "space": {"block_storage": {"size": aggr.size, "used": used, "available": max(0, aggr.size - used)}},
                "_links": links(f"/api/storage/aggregates/{aggr.uuid}")}


class SnapmirrorPolicies(Collection):
    path = "/api/snapmirror/policies"
    model = ResourceModel("SnapmirrorPolicy")

    def objects(self, request):
        return list(SYSTEM_POLICIES.items())

    def find(self, request):
        for item in SYSTEM_POLICIES.items():
            if stable_uuid("snapmirror-policy", item[0]) == request.params["uuid"]:
                return item
        raise not_found(f"SnapMirror policy {request.params['uuid']}")

    def render(self, request, item):
        name, kind = item
        uuid = stable_uuid("snapmirror-policy", name)
        record = {"uuid": uuid, "name": name, "type": kind, "scope": "cluster", "_links": links(f"/api/snapmirror/policies/{uuid}")}
        if kind == "async":  # a vault is the async policy that takes no snapshot on the source and keeps labels
            rules = VAULT_POLICIES.get(name)
            record["create_snapshot_on_source"] = rules is None
            if rules:
                record["retention"] = [{"label": label, "count": count} for label, count in rules.items()]
        return record


def register(router: Router) -> None:
    router.add_route("GET", "/api/cluster", get_cluster, model="Cluster")
    for collection in (Nodes(), Jobs(), Svms(), SvmPeers(), Aggregates(), SnapmirrorPolicies()):
        router.add_collection(collection)
