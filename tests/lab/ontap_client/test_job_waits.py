"""The client waits for an ONTAP job as long as the job takes, not a poll interval: every POST, PATCH and
DELETE asks ONTAP (return_timeout) to answer when its job has ended, and SnapMirror waits look again
after 0.2 s, then twice as long each time. Run with -s for the figures docs/benchmarks.md quotes."""
from __future__ import annotations

import statistics
import time

import pytest
import requests

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap import connection as ontap_connection
from smhv_lab.ontap import jobs

JOB_SECONDS = 0.3
RUNS = 3


def timed(client, action):
    """(what `action` returned, seconds it took, REST requests it sent to cluster-a)."""
    before, started = client.call_counts()["cluster-a"], time.monotonic()
    result = action()
    return result, time.monotonic() - started, client.call_counts()["cluster-a"] - before


def test_snapshot_create_and_delete_wait_as_long_as_their_jobs(site):
    jobs.configure(site.cluster(), durations={"snapshot": JOB_SECONDS})
    client = site.client("cluster-a")  # timeout 10: a missed job would cost a poll interval of 1.7 s
    volume = client.get_volume("cluster-a", "svm1", "vol2")
    figures = {"create": [], "delete": []}
    for run in range(RUNS):
        snapshot, seconds, sent = timed(client, lambda name="job%d" % run: client.create_snapshot(volume, name))
        figures["create"].append((seconds, sent))
        figures["delete"].append(timed(client, lambda snap=snapshot: client.delete_snapshot(snap))[1:])
    for label, measured in figures.items():
        median = statistics.median(seconds for seconds, sent in measured)
        print("snapshot %s against a %.1f s job: median %.2f s, requests %s"
              % (label, JOB_SECONDS, median, sorted({sent for seconds, sent in measured})))
        assert JOB_SECONDS <= median < JOB_SECONDS + 0.6
    # POST, the job (already done), the new snapshot's query-form Location, the job again (netapp-ontap
    # reads it once to learn the new uuid and once more as the post's own poll); DELETE and its job.
    assert {sent for seconds, sent in figures["create"]} == {4}
    assert {sent for seconds, sent in figures["delete"]} == {2}


def test_a_job_outlasting_the_timeout_fails_naming_it_soon_after(site):
    jobs.configure(site.cluster(), durations={"snapshot.create": 30})
    client = site.client("cluster-a", timeout=1)
    volume = client.get_volume("cluster-a", "svm1", "vol2")
    started = time.monotonic()
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(volume, "never")
    elapsed = time.monotonic() - started
    assert caught.value.code == "STORAGE_JOB_TIMEOUT" and caught.value.details["job_uuid"] in caught.value.message
    assert 1 <= elapsed < 2.5  # ONTAP held the call for the 1 s timeout; one more look at the job, 0.2 s later


def test_snapmirror_update_waits_for_a_short_transfer_without_a_whole_interval(site):
    site.cluster("cluster-b").transfer_polls = 2
    client = site.client()
    relationship = client.snapmirror.find(source_path="svm1:vol1")[0]
    result, seconds = timed(client, lambda: client.snapmirror.update(relationship))[:2]
    print("SnapMirror update with a transfer seen running twice: %.2f s" % seconds)
    assert result.state == "success" and seconds < 1.5  # a poll interval would be 1.7 s here (5 s by default)


def test_a_temporary_group_still_being_made_by_a_killed_run_means_one_snapshot_per_volume(site):
    """A run killed during its temporary consistency group's creation leaves the job running: the next run
    does not see the group when it lists them, and ONTAP then refuses its own group (a volume is in one
    group at most). The next run looks again, takes one snapshot per volume and names the group, instead
    of failing; a refusal with no such group still fails (tests/e2e/test_backup_consistency.py)."""
    cluster = site.cluster()
    jobs.configure(cluster, durations={"consistency_group.create": 1.5})  # the next run lists groups well within it
    client = site.client("cluster-a")
    volumes = [client.get_volume("cluster-a", "svm1", name) for name in ("vol1", "vol2")]
    session = requests.Session()
    session.auth, session.verify = (cluster.username, cluster.password), str(site.ca)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify` (psf/requests#3829)
    killed = session.post(site.servers["cluster-a"].url + "/api/application/consistency-groups", json={
        "svm": {"name": "svm1"}, "name": "smhv_tmp_killed", "volumes": [{"name": "vol1"}, {"name": "vol2"}]})
    assert killed.status_code == 202  # the killed run's job, still running while the next run lists groups
    taken = client.create_snapshots(volumes, "ds_next")
    assert taken.consistency_groups == () and "smhv_tmp_killed" in taken.notes[0]
    assert all(cluster.volume(name).has_snapshot("ds_next") for name in ("vol1", "vol2"))


def test_a_job_outlasting_return_timeout_is_seen_soon_after_it_ends(site, monkeypatch):
    """ONTAP holds a call for 120 s at most; a longer job gets a 202 and is then looked at by the client with a back-off
    from 0.05 s (job_waits.py), not at netapp-ontap's fixed interval (here 1.5 s; 5 s by default). Scaled down: ONTAP
    holds for 1 s and the job takes 1.3 s, so it ends 0.3 s after the 202 and the back-off sees it at 0.35 s (issue 20)."""
    monkeypatch.setattr(ontap_connection, "MAX_RETURN_TIMEOUT", 1)
    jobs.configure(site.cluster(), durations={"snapshot.create": 1.3})
    client = site.client("cluster-a")  # timeout 10: the library alone would look again 1.5 s after its first poll
    volume = client.get_volume("cluster-a", "svm1", "vol2")
    snapshot, seconds, sent = timed(client, lambda: client.create_snapshot(volume, "long"))
    print("snapshot create against a 1.3 s job, ONTAP holding the call 1 s: %.2f s, %d requests" % (seconds, sent))
    assert snapshot.name == "long" and 1.3 <= seconds < 1.3 + 0.3
