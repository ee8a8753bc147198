"""The cluster's licence packages (`GET /api/cluster/licensing/licenses`), as SMHV's licence check reads them.

ONTAP (REST reference, "Cluster licensing licenses endpoint overview", since 9.6): one record per package, named in
lower case (`snaprestore`, `flexclone`, `iscsi`...), with a summary `state` (compliant, noncompliant, unlicensed,
unknown), a `scope` and the `licenses` that grant it. By default the collection lists only the packages that have a
licence; `state=unlicensed` lists the others. Since 9.11.1 the `base` package is no longer returned. A package name that
is not a package answers 404. The lab licenses every package by default; a topology (`unlicensed: [flexclone]` on an
ONTAP cluster) or the control API (POST /licences) takes one away. POST (adding licence keys) and DELETE are not
simulated: the lab refuses them as ONTAP refuses a call it has no route for.
"""
from __future__ import annotations

from typing import Any

from ...world.storage import OntapError, not_found
from ..model import ResourceModel
from ..request import Request, links
from ..router import Collection, Router

# The packages the lab's clusters know, with ONTAP's descriptions.
PACKAGES = {
    "nfs": "NFS License", "cifs": "CIFS License", "iscsi": "iSCSI License", "fcp": "FCP License",
    "snaprestore": "SnapRestore License", "snapmirror": "SnapMirror License", "flexclone": "FlexClone License",
    "snapvault": "SnapVault License", "snapmanagersuite": "SnapManagerSuite License",
    "snapmirror_sync": "SnapMirror Synchronous License", "nvme_of": "NVMe-oF License",
}

# ONTAP refuses a feature whose package is not licensed; its REST reference documents no error code for that, so this
# one is the lab's. Clients must not depend on it: smhv reads the licences after a failure to say which one is missing.
UNLICENSED_FEATURE = 13001
TITLES = {"flexclone": "FlexClone", "snaprestore": "SnapRestore", "snapmirror": "SnapMirror", "snapvault": "SnapVault"}
CORE_BUNDLE = ("nfs", "cifs", "iscsi", "fcp", "snaprestore", "flexclone", "nvme_of")


def unlicensed(cluster) -> set[str]:
    return getattr(cluster, "unlicensed", set())  # a world pickled before licences existed has every package


def require_licence(cluster, package: str) -> None:
    """Refuse a request whose feature needs `package` when the cluster lacks it (LUN and volume clones, SnapRestore,
    SnapMirror transfers), before anything changes."""
    if package in unlicensed(cluster):
        raise OntapError(f"{TITLES.get(package, package)} is not licensed on cluster {cluster.name}.", UNLICENSED_FEATURE)


def set_unlicensed(world, body: dict[str, Any]) -> dict[str, list[str]]:
    """The control API's POST /licences {cluster?, unlicensed: [package...]}: the packages a cluster (every cluster when
    none is named) lacks from now on; the others are licensed again."""
    names = list(body.get("unlicensed", []))
    unknown = [name for name in names if name not in PACKAGES]
    if unknown:
        raise ValueError(f"unknown licence package(s) {', '.join(unknown)}; known: {', '.join(PACKAGES)}")
    chosen = [world.clusters[body["cluster"]]] if body.get("cluster") else list(world.clusters.values())
    for cluster in chosen:
        cluster.unlicensed = set(names)
    return {cluster.name: sorted(unlicensed(cluster)) for cluster in world.clusters.values()}


class Licenses(Collection):
    path = "/api/cluster/licensing/licenses"
    model = ResourceModel("LicensePackage")
    keys = ("name",)
    identity = ("name",)
    asynchronous = False

    def objects(self, request: Request) -> list[Any]:
        # ONTAP lists unlicensed packages only when the query asks for them by state.
        wanted = request.query.get("state", "")
        return [name for name in PACKAGES if name not in unlicensed(request.cluster) or "unlicensed" in wanted]

    def find(self, request: Request) -> Any:
        name = request.params["name"]
        if name not in PACKAGES:
            raise not_found(f"license package {name}", "name")
        return name

    def render(self, request: Request, name: str) -> dict[str, Any]:
        cluster = request.cluster
        record = {"name": name, "description": PACKAGES[name], "_links": links(f"/api/cluster/licensing/licenses/{name}")}
        if name in unlicensed(cluster):
            return dict(record, scope="not_available", state="unlicensed", licenses=[])
        bundle = "Core Bundle" if name in CORE_BUNDLE else "Data Protection Bundle"  # ONTAP One's bundles, 9.10.1 and later
        grant = {"owner": cluster.name, "serial_number": "1-80-000011", "active": True, "evaluation": False,
                 "compliance": {"state": "compliant"}, "installed_license": bundle}
        return dict(record, scope="cluster", state="compliant", licenses=[grant])


def register(router: Router) -> None:
    router.add_collection(Licenses())
