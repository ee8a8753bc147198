"""The one world model that every simulated endpoint of a lab serves.

ONTAP clusters (storage/) and Windows hosts and failover clusters (windows.py) live side by side
so that a LUN snapshot taken over REST and the files a host sees over WinRM are the same objects.
Every server handles a request while holding `world.lock`; state is pickled to the state dir on
`down` and loaded again on `up`.
"""
from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

STATE_FILE = "world.pickle"


class World:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clusters: dict[str, Any] = {}  # name -> storage.StorageCluster
        self.hosts: dict[str, Any] = {}  # name -> windows.WindowsHost
        self.failover_clusters: dict[str, Any] = {}  # name -> windows.FailoverCluster
        self.settings: dict[str, Any] = {}  # topology-wide settings (credentials, domain, ...)

    # -- lookups that cross the storage/Windows boundary -------------------------------------
    def cluster(self, name: str):
        try:
            return self.clusters[name]
        except KeyError:
            raise KeyError(f"no ONTAP cluster named {name!r} in this lab") from None

    def host(self, name: str):
        key = name.split(".")[0].lower()
        for host in self.hosts.values():
            if host.name.lower() == key:
                return host
        raise KeyError(f"no Windows host named {name!r} in this lab")

    def find_lun_by_serial(self, serial: str):
        """(cluster, lun) for a LUN serial on any cluster, as a host sees it through its disk."""
        for cluster in self.clusters.values():
            lun = cluster.lun_by_serial(serial)
            if lun is not None:
                return cluster, lun
        return None, None

    def luns_visible_to(self, initiator: str) -> list[tuple[Any, Any, int]]:
        """(cluster, lun, lun_id) for every LUN mapped to an igroup holding this initiator."""
        found = []
        for cluster in self.clusters.values():
            for lun, lun_id in cluster.luns_visible_to(initiator):
                found.append((cluster, lun, lun_id))
        return found

    # -- persistence --------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    def save(self, state_dir: Path) -> None:
        with self.lock:
            data = pickle.dumps(self)
        tmp = state_dir / (STATE_FILE + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(state_dir / STATE_FILE)

    @classmethod
    def load(cls, state_dir: Path) -> "World | None":
        path = state_dir / STATE_FILE
        if not path.exists():
            return None
        return pickle.loads(path.read_bytes())
