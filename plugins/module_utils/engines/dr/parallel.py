# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ONTAP work of a failover run side by side, a bounded number at a time: StorageClient is thread-safe (each thread has
its own connection per cluster), and a DR site's volumes are independent, so a failover's break and SnapRestore cost
grows with the slowest volume, not with the number of volumes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

PARALLEL_VOLUMES = 8  # as many ONTAP requests at a time as the backup engine sends a cluster


def in_parallel(function, items):
    """[function(item) for item in items], up to PARALLEL_VOLUMES at a time, in the items' order; every call has finished
    when it returns, and the first failure (in the items' order) is raised then."""
    items = list(items)
    if len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_VOLUMES, len(items))) as pool:
        futures = [pool.submit(function, item) for item in items]
    return [future.result() for future in futures]
