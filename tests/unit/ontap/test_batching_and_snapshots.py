"""What StorageClient sends: one query for many serials, per-volume snapshot rules, busy snapshots."""
from __future__ import annotations

import dataclasses

import pytest
import requests

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import SnapshotInfo, VolumeInfo


def lun_record(serial, volume="vol1"):
    return {"uuid": "lun-" + serial, "name": "/vol/%s/%s" % (volume, serial), "serial_number": serial,
            "os_type": "hyper_v", "space": {"size": 1024}, "svm": {"name": "vs0"},
            "location": {"volume": {"name": volume, "uuid": "uuid-" + volume}}}


def collection(*records):
    return {"records": list(records), "num_records": len(records)}


def test_serials_are_looked_up_in_one_query_per_cluster(ontap, client):
    ontap.identity("c1", "c1")
    ontap.identity("c2", "c2")
    ontap.expect("c1", "GET", "/api/storage/luns", body=collection(lun_record("AAA"), lun_record("BBB")))
    ontap.expect("c2", "GET", "/api/storage/luns", body=collection(lun_record("CCC", "vol9")))
    found = client.find_luns_by_serials(["AAA", "BBB", "CCC", "AAA"])
    assert {serial: ref.cluster for serial, ref in found.items()} == {"AAA": "c1", "BBB": "c1", "CCC": "c2"}
    queries = [sent.query for sent in ontap.sent_to("GET", "/api/storage/luns")]
    assert [q["serial_number"] for q in queries] == ["AAA|BBB|CCC", "CCC"]  # c2 is asked only for the rest
    assert found["CCC"].volume_uuid == "uuid-vol9" and found["AAA"].size == 1024
    assert client.call_counts() == {"c1": 2, "c2": 2}


def test_a_down_cluster_is_fine_when_every_serial_was_found_elsewhere(ontap, client):
    ontap.identity("c1", "c1")
    ontap.expect("c2", "GET", "/api/cluster", raises=requests.exceptions.ConnectionError("down"))
    ontap.expect("c1", "GET", "/api/storage/luns", body=collection(lun_record("AAA")))
    assert set(client.find_luns_by_serials(["AAA"])) == {"AAA"}


def test_snapshot_limit_follows_the_ontap_version(ontap, storage_system):
    client = StorageClient([storage_system("old"), storage_system("new")])
    ontap.identity("old", "old", version=(9, 3, 0))
    ontap.identity("new", "new", version=(9, 8, 0))
    volume = VolumeInfo(cluster="old", svm="vs0", name="v", uuid="u", type="dp", state="online", snapshot_count=0,
                        size=1, available=1)
    assert client.snapshot_limit(volume) == 254
    assert client.snapshot_limit(dataclasses.replace(volume, cluster="new", type="rw")) == 1023


def test_delete_snapshots_reports_busy_and_goes_on(ontap, client):
    ontap.identity("c1", "c1")
    snapshots = [SnapshotInfo(cluster="c1", svm="vs0", volume_name="v", volume_uuid="v-1", name=name, uuid="s-" + name)
                 for name in ("busy", "gone", "free")]
    ontap.expect("c1", "DELETE", "/api/storage/volumes/v-1/snapshots/s-busy", status=200, body=ontap.job_link("j1"))
    ontap.job("c1", "j1", state="failure", message="has not expired or is locked", code=1638555)
    ontap.job("c1", "j1", state="failure", message="has not expired or is locked", code=1638555)
    ontap.expect("c1", "DELETE", "/api/storage/volumes/v-1/snapshots/s-gone", status=404,
                 body={"error": {"message": "entry doesn't exist", "code": "4"}})
    ontap.expect("c1", "DELETE", "/api/storage/volumes/v-1/snapshots/s-free", status=200, body=ontap.job_link("j3"))
    ontap.job("c1", "j3")
    report = client.delete_snapshots(snapshots)
    assert [s.name for s in report.deleted] == ["gone", "free"]
    [(busy, error)] = report.busy
    assert busy.name == "busy" and error.code == "SNAPSHOT_BUSY" and error.details["job_uuid"] == "j1"
    assert not report.failed


def test_restore_sends_restore_to_as_a_query_patch(ontap, client):
    ontap.identity("c1", "c1")
    ontap.expect("c1", "PATCH", "/api/storage/volumes", status=200,
                 body={"jobs": [ontap.job_link("j9")["job"]], "num_records": 1})
    ontap.job("c1", "j9")
    client.restore_volume(SnapshotInfo(cluster="c1", svm="vs0", volume_name="v", volume_uuid="v-1", name="s1"))
    [patch] = ontap.sent_to("PATCH", "/api/storage/volumes")
    # return_timeout: ONTAP answers when the restore's job ends (the storage system's timeout, 30 s here)
    assert patch.query == {"uuid": "v-1", "return_timeout": "30"} and patch.body == {"restore_to.snapshot.name": "s1"}


def test_restore_of_a_volume_that_matches_nothing_is_not_found(ontap, client):
    ontap.identity("c1", "c1")
    ontap.expect("c1", "PATCH", "/api/storage/volumes", body={"num_records": 0})
    snapshot = SnapshotInfo(cluster="c1", svm="vs0", volume_name="v", volume_uuid="v-404", name="s1")
    with pytest.raises(SmhvError) as caught:
        client.restore_volume(snapshot)
    assert caught.value.code == "STORAGE_OBJECT_NOT_FOUND" and "v-404" in caught.value.message
