"""A running lab: one world, an HTTPS REST endpoint per ONTAP cluster, a WinRM endpoint per host,
and the control API, all on loopback ports in one process: free ones, or with `base_port` fixed ones in a row.

`Lab` runs in-process (pytest fixtures) or inside the background process that `smhv-lab up` starts.
"""
from __future__ import annotations

import functools
import shutil
from pathlib import Path

from . import endpoints as endpoints_file
from .control import ControlServer
from .faults import FaultRegistry
from .hyperv import AgentExecutor
from .hyperv.fleet_ops import host_power
from .ontap import OntapServer
from .tls import ensure_certificates, server_context
from .topology import DEFAULT_TOPOLOGY, build_world, load_topology
from .winrm import WinRMServer
from .world import World

TOPOLOGY_COPY = "topology.yml"


def fixed_ports(base_port: int, clusters, hosts) -> dict:
    """Ports in a row from `base_port`, in a documented order so that they stay the same on every `up`: the control API,
    then each ONTAP cluster, then each host's WinRM over HTTP and HTTPS, in the topology's order."""
    ports = iter(range(base_port, base_port + 1 + len(clusters) + 2 * len(hosts)))
    return {"control": next(ports), "ontap": {name: next(ports) for name in clusters},
            "winrm": {name: (next(ports), next(ports)) for name in hosts}}


def port_count(world) -> int:
    return 1 + len(world.clusters) + 2 * len(world.hosts)


class Lab:
    def __init__(self, state_dir: Path, topology: Path | None = None, base_port: int = 0) -> None:
        self.state_dir = Path(state_dir)
        self.base_port = base_port
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        copy = self.state_dir / TOPOLOGY_COPY
        if topology is not None or not copy.exists():
            shutil.copyfile(topology or DEFAULT_TOPOLOGY, copy)
        self.topology_path = copy
        self.faults = FaultRegistry()
        self.world: World = World.load(self.state_dir) or build_world(load_topology(copy))
        self.executor = AgentExecutor(self.world, self.faults)
        self.ontap: dict[str, OntapServer] = {}
        self.winrm: dict[str, WinRMServer] = {}
        self.control: ControlServer | None = None
        self.endpoints: dict = {}

    def start(self) -> dict:
        names = list(self.world.hosts) + list(self.world.failover_clusters)
        self.certs = ensure_certificates(self.state_dir / "tls", names)
        context = server_context(self.certs)
        ports = fixed_ports(self.base_port, self.world.clusters, self.world.hosts) if self.base_port else \
            {"control": 0, "ontap": {}, "winrm": {}}
        try:
            for name in self.world.clusters:
                server = OntapServer(self.world, name, faults=self.faults, tls_context=context, port=ports["ontap"].get(name, 0))
                server.start()
                self.ontap[name] = server
            for name, host in self.world.hosts.items():
                server = WinRMServer(name, username=host.username, password=host.password, executor=self.executor,
                                     faults=self.faults, tls_context=context,
                                     power=functools.partial(host_power, self.world, name),
                                     http_port=ports["winrm"].get(name, (0, 0))[0], https_port=ports["winrm"].get(name, (0, 0))[1])
                server.start()
                self.winrm[name] = server
            self.control = ControlServer(self, port=ports["control"])
            self.control.start()
        except OSError as error:
            self.stop(save=False)
            if not self.base_port:
                raise
            last = self.base_port + port_count(self.world) - 1
            raise OSError(error.errno, f"the lab needs ports {self.base_port}-{last} (--base-port {self.base_port}) and one of "
                                       f"them is taken: {error.strerror}") from error
        except BaseException:
            self.stop(save=False)
            raise
        self.endpoints = endpoints_file.describe(
            self.world, self.certs["ca_cert"], {n: s.port for n, s in self.ontap.items()},
            {n: (s.http_port, s.https_port) for n, s in self.winrm.items()}, self.control.url)
        endpoints_file.write(self.state_dir, self.endpoints)
        return self.endpoints

    def reset(self) -> None:
        """Back to the topology's initial state, with no faults or latency, on the same ports."""
        fresh = build_world(load_topology(self.topology_path))
        with self.world.lock:
            self.world.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "lock"})
        self.faults.clear()

    def stop(self, save: bool = True) -> None:
        if self.control is not None:
            self.control.stop()
            self.control = None
        for server in [*self.winrm.values(), *self.ontap.values()]:
            server.stop()
        self.winrm.clear()
        self.ontap.clear()
        self.executor.close()
        if save:
            self.world.save(self.state_dir)
