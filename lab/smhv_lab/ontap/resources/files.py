"""File-level operations on LUN files: `/api/storage/file/clone` and the CLI passthrough for
`volume snapshot restore-file` and `volume snapshot restore` (synchronous, as the CLI is)."""
from __future__ import annotations

from ...world.storage import INVALID_VALUE, OntapError
from ..request import Request, Response, as_bool
from ..router import Router
from .common import body_volume, done, perform, referenced
from .licensing import require_licence


def clone_file(request: Request) -> Response:
    vol = body_volume(request, "volume", request.field("svm.name"))
    source, destination = request.required("source_path"), request.required("destination_path")
    overwrite = as_bool(request.field("overwrite_destination", False), "overwrite_destination")
    require_licence(request.cluster, "flexclone")
    return perform(request, lambda: request.cluster.clone_file(vol, source, destination, overwrite), True)


def _cli_target(request: Request):
    for name in ("vserver", "volume", "snapshot"):
        if not request.field(name):
            raise OntapError(f'Missing value for required parameter "-{name}".', INVALID_VALUE, target=name)
    cluster = request.cluster
    vol = referenced(lambda: cluster.volume(request.field("volume"), request.field("vserver")), "volume")
    snap = referenced(lambda: vol.snapshot(request.field("snapshot")), "snapshot")
    return vol, snap


def cli_restore_file(request: Request) -> Response:
    vol, snap = _cli_target(request)
    require_licence(request.cluster, "snaprestore")
    path = request.required("path")
    request.cluster.restore_file(vol, snap, path, request.field("restore-path") or "")
    return Response(200, {"cli_output": ""})


def cli_restore_volume(request: Request) -> Response:
    vol, snap = _cli_target(request)
    require_licence(request.cluster, "snaprestore")
    request.cluster.restore_volume(vol, snap)
    return done(request)


def register(router: Router) -> None:
    router.add_route("POST", "/api/storage/file/clone", clone_file, asynchronous=True, model="FileClone",
                     family="file_clone")
    router.add_route("POST", "/api/private/cli/volume/snapshot/restore-file", cli_restore_file)
    router.add_route("POST", "/api/private/cli/volume/snapshot/restore", cli_restore_volume)
