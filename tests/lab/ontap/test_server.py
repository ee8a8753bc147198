"""The listener itself: loopback only, keep-alive, clean stop, and pickling a world with jobs in it."""
from __future__ import annotations

import pickle
import threading

import requests

from smhv_lab.ontap import OntapServer


def test_binds_loopback_on_a_free_port(ontap_lab):
    server = ontap_lab.servers["cluster-a"]
    assert server._listener.server_address[0] == "127.0.0.1" and server.port != ontap_lab.servers["cluster-b"].port


def test_keep_alive_reuses_one_connection(ontap_lab):
    session = requests.Session()
    session.auth, session.verify = ontap_lab.credentials(), str(ontap_lab.ca)
    for attempt in range(5):
        assert session.get(ontap_lab.url() + "/api/cluster").status_code == 200
    assert len(ontap_lab.servers["cluster-a"]._listener.connections) == 1


def test_stop_leaves_no_thread_and_frees_the_port(ontap_lab, lab_certificates):
    from smhv_lab import tls
    server = OntapServer(ontap_lab.world, "cluster-a", faults=ontap_lab.faults,
                         tls_context=tls.server_context(lab_certificates)).start()
    session = requests.Session()
    session.auth, session.verify = ontap_lab.credentials(), str(ontap_lab.ca)
    assert session.get(server.url + "/api/cluster").status_code == 200  # leaves a keep-alive connection open
    port, before = server.port, threading.active_count()
    server.stop()
    assert threading.active_count() <= before - 2  # the accept loop and the connection thread are gone
    rebound = OntapServer(ontap_lab.world, "cluster-a", faults=ontap_lab.faults,
                          tls_context=tls.server_context(lab_certificates), port=port).start()
    rebound.stop()


def test_world_with_pending_jobs_pickles(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    cluster.job_polls = 5
    vol = cluster.volume("vol1")
    conn.session.post(f"{ontap_lab.url()}/api/storage/volumes/{vol.uuid}/snapshots", json={"name": "pending"})
    with ontap_lab.world.lock:
        copy = pickle.loads(pickle.dumps(ontap_lab.world))
    job = next(iter(copy.clusters["cluster-a"].jobs.values()))
    assert job.state == "failure" and job.action is None
    assert next(iter(cluster.jobs.values())).state == "running"  # the live job is untouched
