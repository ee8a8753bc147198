"""ONTAP jobs take time in the simulator: a job runs for its operation's duration and its change lands
only then; return_timeout answers when it ends; the durations come from a profile, per-operation
settings, the topology or the control API (docs/lab.md, "Job timing")."""
from __future__ import annotations

import time
from types import SimpleNamespace

import requests
from netapp_ontap import HostConnection
from netapp_ontap.resources import Snapshot

from smhv_lab.control import ControlServer
from smhv_lab.ontap import jobs
from smhv_lab.topology import build_world, load_topology
from smhv_lab.world.storage import StorageCluster

JOB_SECONDS = 0.3


def test_a_job_runs_for_its_duration_and_lands_then(ontap_lab):
    cluster = ontap_lab.cluster()
    jobs.configure(cluster, durations={"snapshot.create": JOB_SECONDS})
    vol = cluster.volume("vol1")
    session = requests.Session()
    session.auth, session.verify = ontap_lab.credentials(), str(ontap_lab.ca)
    url = f"{ontap_lab.url()}/api/storage/volumes/{vol.uuid}/snapshots"
    started = time.monotonic()
    accepted = session.post(url, json={"name": "timed"})
    href = ontap_lab.url() + accepted.json()["job"]["_links"]["self"]["href"]
    assert accepted.status_code == 202
    assert session.get(href).json()["state"] == "running" and not vol.has_snapshot("timed")
    time.sleep(max(0.0, started + JOB_SECONDS + 0.1 - time.monotonic()))  # the job started after `started`
    assert session.get(href).json()["state"] == "success" and vol.has_snapshot("timed")

    started = time.monotonic()
    waited = session.post(url + "?return_timeout=10", json={"name": "waited"})
    elapsed = time.monotonic() - started
    assert waited.status_code == 201 and JOB_SECONDS <= elapsed < JOB_SECONDS + 1.5
    assert vol.has_snapshot("waited")
    jobs.configure(cluster, durations={"snapshot.create": 3})
    started = time.monotonic()
    held = session.post(url + "?return_timeout=1", json={"name": "slow"})
    assert held.status_code == 202 and 1 <= time.monotonic() - started < 2.5  # answered at return_timeout
    assert not vol.has_snapshot("slow")
    session.close()


def test_netapp_ontap_sleeps_its_poll_interval_on_a_short_job(ontap_lab):
    """What the lab used to hide: without return_timeout the library's second look at a 0.3 s job comes
    one poll interval later (5 s by default; 1 s here to keep the test short)."""
    cluster = ontap_lab.cluster()
    jobs.configure(cluster, durations={"snapshot": JOB_SECONDS})
    username, password = ontap_lab.credentials()
    with HostConnection("127.0.0.1", port=ontap_lab.servers["cluster-a"].port, username=username, password=password,
                        verify=str(ontap_lab.ca), poll_interval=1):
        started = time.monotonic()
        Snapshot(cluster.volume("vol1").uuid, name="polled").post()
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5


def test_profiles_durations_topology_and_control_api(ontap_lab):
    fresh = StorageCluster("fresh")
    assert fresh.job_profile == "realistic" and jobs.duration(fresh, "snapshot.create") == 0.5
    assert jobs.duration(fresh, "volume.create") == 1.0 and jobs.duration(fresh, "unknown.create") == 0.5
    jobs.configure(fresh, durations={"snapshot": 0.2, "snapshot.delete": 0.1})
    assert (jobs.duration(fresh, "snapshot.create"), jobs.duration(fresh, "snapshot.delete")) == (0.2, 0.1)
    jobs.configure(fresh, profile="instant")
    assert jobs.timing(fresh)["overrides"] == {} and jobs.duration(fresh, "volume.restore") == 0.0

    spec = load_topology()
    spec["ontap_jobs"] = {"profile": "instant"}
    spec["ontap_clusters"][0]["jobs"] = {"durations": {"cg_snapshot.create": 2.5}}
    world = build_world(spec)
    first, second = (world.clusters[item["name"]] for item in spec["ontap_clusters"][:2])
    assert jobs.duration(first, "cg_snapshot.create") == 2.5 and jobs.duration(first, "volume.create") == 0.0
    assert jobs.duration(second, "cg_snapshot.create") == 0.0

    control = ControlServer(SimpleNamespace(world=ontap_lab.world))
    control.start()
    try:
        body = {"cluster": "cluster-b", "profile": "realistic", "durations": {"snapshot.create": 0.3}}
        answer = requests.post(control.url + "/ontap-jobs", json=body, timeout=5)
        assert answer.status_code == 200
        assert answer.json()["cluster-b"]["durations"]["snapshot.create"] == 0.3
        assert answer.json()["cluster-a"]["profile"] == "instant"
        listed = requests.get(control.url + "/ontap-jobs", timeout=5).json()
        assert listed["cluster-b"]["durations"]["volume.create"] == 1.0
        refused = requests.post(control.url + "/ontap-jobs", json={"profile": "slowest"}, timeout=5)
        assert refused.status_code == 400
    finally:
        control.stop()
