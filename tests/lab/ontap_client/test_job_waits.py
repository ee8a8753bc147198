"""The client waits for an ONTAP job as long as the job takes, not a poll interval: every POST, PATCH and
DELETE asks ONTAP (return_timeout) to answer when its job has ended, and SnapMirror waits look again
after 0.2 s, then twice as long each time. Run with -s for the figures docs/benchmarks.md quotes."""
from __future__ import annotations

import statistics
import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
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
