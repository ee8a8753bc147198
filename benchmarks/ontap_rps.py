"""How many requests per second one simulated ONTAP cluster serves over keep-alive HTTPS.

Clients use netapp-ontap unmodified (one HostConnection, so one keep-alive TLS session each) and mix
cheap GETs of the cluster and of a volume with snapshot POSTs whose jobs are polled, as a plugin
does. netapp-ontap spends far more CPU (de)serializing than the server spends answering, so clients
run in their own processes (not threads sharing the server's GIL); the server counts what it answered.

Two figures per run: the achieved rate (bounded by the clients and by whatever else loads the
machine) and the server's capacity, requests per CPU-second of the server process, which is what
one core could serve if the clients were free. `--session` sends the same calls through the
HostConnection's own keep-alive session without the resource objects, to show the transport's rate.

    .venv/bin/python benchmarks/ontap_rps.py [--requests 600] [--clients 3] [--latency-ms 0] [--runs 3] [--session]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

from netapp_ontap import HostConnection, utils
from netapp_ontap.resources import Cluster, Snapshot, Volume

from smhv_lab import tls
from smhv_lab.faults import FaultRegistry
from smhv_lab.ontap import OntapServer
from smhv_lab.world import World
from smhv_lab.world.storage import StorageCluster

POST_EVERY = 10  # one snapshot create (POST + job poll) per ten calls


def build(certs: dict[str, Path], latency: float) -> tuple[OntapServer, FaultRegistry]:
    world = World()
    cluster = StorageCluster("bench", "9.13.1")
    world.clusters[cluster.name] = cluster
    cluster.add_svm("svm1")
    cluster.add_aggregate("aggr1", 1 << 40)
    cluster.create_volume("svm1", "vol1", "aggr1", 1 << 30)
    cluster.create_lun("vol1", "lun1", 1 << 28)
    faults = FaultRegistry()
    faults.set_latency("ontap", latency)
    return OntapServer(world, cluster.name, faults=faults, tls_context=tls.server_context(certs)).start(), faults


def client(port: int, ca: str, calls: int, name: str, raw_session: bool, ready, go) -> None:
    os.environ["REQUESTS_CA_BUNDLE"] = ca  # requests lets this override a Session's verify
    os.environ.pop("CURL_CA_BUNDLE", None)
    with HostConnection("127.0.0.1", port=port, username="admin", password="netapp123", verify=ca) as connection:
        volume = Volume.find(name="vol1", fields="uuid")  # also opens the keep-alive connection
        session, origin = connection.session, connection.origin
        ready.release()
        go.wait()
        for i in range(calls):
            if i % POST_EVERY == 0 and raw_session:
                snapshots = f"{origin}/api/storage/volumes/{volume.uuid}/snapshots"
                utils.poll(session.post(snapshots, json={"name": f"{name}.{i}"}), connection=connection)
            elif i % POST_EVERY == 0:
                Snapshot(volume.uuid, name=f"{name}.{i}").post(poll_interval=0)
            elif raw_session:
                session.get(f"{origin}/api/cluster?fields=version" if i % 2 else
                            f"{origin}/api/storage/volumes/{volume.uuid}?fields=name,size,snapshot_count").json()
            elif i % 2:
                Cluster().get(fields="version")
            else:
                volume.get(fields="name,size,snapshot_count")


def run(certs: dict[str, Path], requests: int, clients: int, latency: float, raw_session: bool) -> tuple[float, float]:
    server, faults = build(certs, latency)
    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Semaphore(0), spawn.Event()
    try:
        workers = [spawn.Process(target=client, args=(server.port, str(certs["ca_cert"]), requests // clients,
                                                      f"c{n}", raw_session, ready, go)) for n in range(clients)]
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.acquire()
        faults.counters["ontap"] = 0
        start, cpu = time.perf_counter(), time.process_time()  # this process is the server alone
        go.set()
        for worker in workers:
            worker.join()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if any(worker.exitcode for worker in workers):
            raise SystemExit("a client failed")
        served = faults.counters["ontap"]
        return served / elapsed, served / cpu
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="client calls per run (POSTs also poll a job)")
    parser.add_argument("--clients", type=int, default=3, help="client processes, one keep-alive connection each")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency added to every request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--session", action="store_true", help="skip the resource objects' (de)serialization")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        certs = tls.ensure_certificates(Path(tmp))
        results = [run(certs, args.requests, args.clients, args.latency_ms / 1000, args.session)
                   for _ in range(args.runs)]
    for rate, capacity in results:
        print(f"achieved {rate:6.0f} requests/s   server capacity {capacity:6.0f} requests per CPU-second")
    print(f"median achieved {statistics.median(r for r, _ in results):.0f} requests/s, median server capacity "
          f"{statistics.median(c for _, c in results):.0f} requests/CPU-s ({args.clients} keep-alive netapp-ontap "
          f"clients{' on bare sessions' if args.session else ''}, latency {args.latency_ms:g} ms)")


if __name__ == "__main__":
    main()
