"""ONTAP REST resources, one module per object family."""
from __future__ import annotations

from ..router import Router
from . import cluster, configuration, consistency_groups, ems, files, licensing, san, snapmirror, volumes


def build_router() -> Router:
    router = Router()
    for family in (cluster, configuration, volumes, san, snapmirror, consistency_groups, files, ems, licensing):
        family.register(router)
    return router
