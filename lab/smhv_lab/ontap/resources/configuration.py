"""Cluster configuration clients read routinely (na_ontap_rest_info's cluster/peers, cluster/schedules,
storage/snapshot-policies and network/ipspaces), served read-only from what a new cluster has.

The schedules and snapshot policies are ONTAP's built-in ones (`job schedule cron show` and
`volume snapshot policy show` on a new cluster): the cron schedules 5min, 8hour, daily, hourly, weekly
and monthly, and the policies "default" (6 hourly, 2 daily, 2 weekly), "default-1weekly" (6 hourly,
2 daily, 1 weekly) and "none". The IPspaces are the two every cluster has, Default and Cluster; the
cluster peers are the lab's peered clusters (`StorageCluster.peers`), all reachable.
"""
from __future__ import annotations

from typing import Any

from ...world.storage import not_found
from ..model import ResourceModel
from ..request import links
from ..router import Collection, Router
from .cluster import version
from .common import stable_uuid

EVERY_FIVE_MINUTES = list(range(0, 60, 5))
# name -> cron fields (minutes, hours, days of the month, weekdays with 0 = Sunday)
SCHEDULES = {
    "5min": {"minutes": EVERY_FIVE_MINUTES},
    "8hour": {"minutes": [15], "hours": [2, 10, 18]},
    "daily": {"minutes": [10], "hours": [0]},
    "hourly": {"minutes": [5]},
    "monthly": {"minutes": [20], "hours": [0], "days": [1]},
    "weekly": {"minutes": [15], "hours": [0], "weekdays": [0]},
}
# name -> (comment, [(schedule, count)])
SNAPSHOT_POLICIES = {
    "default": ("Default policy with hourly, daily & weekly schedules.", [("hourly", 6), ("daily", 2), ("weekly", 2)]),
    "default-1weekly": ("Default policy with 6 hourly, 2 daily & 1 weekly schedule.",
                        [("hourly", 6), ("daily", 2), ("weekly", 1)]),
    "none": ("Policy for no automatic snapshots.", []),
}
IPSPACES = ("Cluster", "Default")


class _Fixed(Collection):
    """A collection of records derived from names: objects are the names, keyed by a stable uuid."""

    names: tuple[str, ...] = ()

    def uuid_of(self, request, name: str) -> str:
        return stable_uuid(request.cluster.uuid, self.path, name)

    def objects(self, request):
        return list(self.names)

    def find(self, request):
        for name in self.objects(request):
            if self.uuid_of(request, name) == request.params["uuid"]:
                return name
        raise not_found(f"{self.path} {request.params['uuid']}")

    def render(self, request, name) -> dict[str, Any]:
        uuid = self.uuid_of(request, name)
        return {"uuid": uuid, "name": name, **self.describe(request, name),
                "_links": links(f"{self.path}/{uuid}")}

    def describe(self, request, name: str) -> dict[str, Any]:
        raise NotImplementedError


class ClusterPeers(_Fixed):
    path = "/api/cluster/peers"
    model = ResourceModel("ClusterPeer")

    def objects(self, request):
        return sorted(request.cluster.peers)

    def describe(self, request, name):
        peer = request.cluster.peers[name]
        return {"remote": {"name": peer.name, "ip_addresses": []},
                "status": {"state": "available"}, "authentication": {"state": "ok", "in_use": "ok"},
                "encryption": {"state": "tls_psk"}, "peer_applications": ["snapmirror", "flexcache"],
                "ipspace": {"name": "Default", "uuid": stable_uuid(request.cluster.uuid, Ipspaces.path, "Default")},
                "version": version(peer)}


class Schedules(_Fixed):
    path = "/api/cluster/schedules"
    model = ResourceModel("Schedule")
    names = tuple(SCHEDULES)

    def describe(self, request, name):
        cron = {"minutes": [], "hours": [], "days": [], "weekdays": [], "months": [], **SCHEDULES[name]}
        return {"type": "cron", "cron": cron, "scope": "cluster",
                "cluster": {"name": request.cluster.name, "uuid": request.cluster.uuid}}


class SnapshotPolicies(_Fixed):
    path = "/api/storage/snapshot-policies"
    model = ResourceModel("SnapshotPolicy")
    names = tuple(SNAPSHOT_POLICIES)

    def describe(self, request, name):
        comment, copies = SNAPSHOT_POLICIES[name]
        return {"comment": comment, "enabled": bool(copies), "scope": "cluster",
                "copies": [{"count": count, "prefix": schedule, "schedule": {"name": schedule}}
                           for schedule, count in copies]}


class Ipspaces(_Fixed):
    path = "/api/network/ipspaces"
    model = ResourceModel("Ipspace")
    names = IPSPACES

    def describe(self, request, name):
        return {}


def register(router: Router) -> None:
    for collection in (ClusterPeers(), Schedules(), SnapshotPolicies(), Ipspaces()):
        router.add_collection(collection)
