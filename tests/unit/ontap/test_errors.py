"""Every way an ONTAP call can fail becomes an SmhvError with a stable code and the facts to act on."""
from __future__ import annotations

import pytest
import requests

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap import connection as ontap_connection
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import SnapshotInfo, VolumeInfo

VOLUME = VolumeInfo(cluster="c1", svm="vs0", name="vol1", uuid="v-1", type="rw", state="online", snapshot_count=3,
                    size=100, available=50)
SNAPSHOT = SnapshotInfo(cluster="c1", svm="vs0", volume_name="vol1", volume_uuid="v-1", name="s1", uuid="s-1")
ONTAP_NOT_FOUND = {"error": {"message": "entry doesn't exist", "code": "4", "target": "uuid"}}


def test_refused_connection_is_unreachable_and_names_the_address(ontap, client):
    ontap.expect("c1", "GET", "/api/cluster", raises=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(SmhvError) as caught:
        client.cluster_for("c1")
    assert caught.value.code == "STORAGE_UNREACHABLE"
    assert "c1:443" in caught.value.message and "refused" in caught.value.message


def test_tls_failure_says_to_set_ca_path(ontap, client):
    ontap.expect("c1", "GET", "/api/cluster", raises=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(SmhvError) as caught:
        client.cluster_for("c1")
    assert caught.value.code == "STORAGE_TLS_ERROR"
    assert "ca_path" in caught.value.message


def test_401_is_auth_failed(ontap, client):
    ontap.expect("c1", "GET", "/api/cluster", status=401,
                 body={"error": {"message": "User is not authorized.", "code": "6"}})
    with pytest.raises(SmhvError) as caught:
        client.cluster_for("c1")
    assert caught.value.code == "STORAGE_AUTH_FAILED"
    assert caught.value.details["http_status"] == 401


def test_missing_snapshot_is_not_found_with_ontap_code(ontap, client):
    ontap.identity("c1", "c1")
    ontap.expect("c1", "DELETE", "/api/storage/volumes/v-1/snapshots/s-1", status=404, body=ONTAP_NOT_FOUND)
    with pytest.raises(SmhvError) as caught:
        client.delete_snapshot(SNAPSHOT)
    error = caught.value
    assert error.code == "STORAGE_OBJECT_NOT_FOUND"
    assert error.details["ontap_code"] == 4
    assert "'c1'" in error.message and "vs0:vol1" in error.message and "'s1'" in error.message


def test_failed_job_reports_its_uuid_and_ontap_code(ontap, client):
    ontap.identity("c1", "c1")
    ontap.expect("c1", "POST", "/api/storage/volumes/v-1/snapshots", status=201, body=ontap.job_link("j-1"),
                 headers={"Location": "/api/storage/volumes/v-1/snapshots/s-9"})
    ontap.job("c1", "j-1", state="failure", message="No space left in volume", code=13107406)
    ontap.job("c1", "j-1", state="failure", message="No space left in volume", code=13107406)
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(VOLUME, "s9")
    error = caught.value
    assert error.code == "STORAGE_JOB_FAILED"
    assert (error.details["job_uuid"], error.details["ontap_code"]) == ("j-1", 13107406)
    assert "j-1" in error.message and "13107406" in error.message and "No space left" in error.message


def test_job_still_running_after_timeout_names_the_job_to_resume(ontap, storage_system):
    client = StorageClient([storage_system("c1", timeout=2)])
    ontap.identity("c1", "c1")
    ontap.expect("c1", "PATCH", "/api/storage/volumes", status=202,
                 body={"jobs": [ontap.job_link("j-7")["job"]], "num_records": 1})
    ontap.job("c1", "j-7", state="running", message="restoring", repeat=True)
    with pytest.raises(SmhvError) as caught:
        client.restore_volume(SNAPSHOT)
    error = caught.value
    assert error.code == "STORAGE_JOB_TIMEOUT"
    assert error.details["job_uuid"] == "j-7" and "j-7" in error.message
    polls = ontap.sent_to("GET", "/api/cluster/jobs/j-7")
    # ONTAP's 202 said the job outlasted return_timeout (here at once): the client's back-off looks at 0.05, 0.15, 0.35,
    # 0.75, 1.55 and 2 s (job_waits), the library's own poll finds it still running with no time left, one read reports it.
    assert len(polls) == 8


def test_duplicate_name_is_snapshot_exists(ontap, client):
    ontap.identity("c1", "c1")
    ontap.expect("c1", "POST", "/api/storage/volumes/v-1/snapshots", status=201, body=ontap.job_link("j-2"),
                 headers={"Location": "/api/storage/volumes/v-1/snapshots/s-2"})
    ontap.job("c1", "j-2", state="failure", message='Snapshot copy "s1" already exists', code=1)
    ontap.job("c1", "j-2", state="failure", message='Snapshot copy "s1" already exists', code=1)
    with pytest.raises(SmhvError) as caught:
        client.create_snapshot(VOLUME, "s1")
    assert caught.value.code == "SNAPSHOT_EXISTS"


def test_missing_library_is_reported_only_when_a_client_is_built(monkeypatch, storage_system):
    monkeypatch.setattr(ontap_connection, "HAS_NETAPP_ONTAP", False)
    with pytest.raises(SmhvError) as caught:
        StorageClient([storage_system("c1")])
    assert caught.value.code == "MISSING_DEPENDENCY"
    assert "pip install netapp-ontap" in caught.value.message


@pytest.mark.parametrize("overrides", [dict(password=None), dict(username=None, password=None, cert_filepath="/c.pem")])
def test_incomplete_credentials_are_invalid_arguments(overrides, storage_system):
    with pytest.raises(SmhvError) as caught:
        StorageClient([storage_system("c1", **overrides)])
    assert caught.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("option", ["ca_path", "cert_filepath", "key_filepath"])
def test_missing_tls_file_names_the_system_and_path(option, storage_system, tmp_path):
    present = tmp_path / "present.pem"
    present.write_text("x")
    given = dict(username=None, password=None, cert_filepath=str(present), key_filepath=str(present)) if option != "ca_path" else {}
    given[option] = str(tmp_path / "nowhere" / "missing.pem")
    with pytest.raises(SmhvError) as caught:
        StorageClient([storage_system("c1"), storage_system("c2", **given)])
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.message.startswith("storage system c2:443: %s %s is not a readable file" % (option, given[option]))
    assert caught.value.details == {"hostname": "c2", "option": "storage_systems." + option, "path": given[option]}


def test_present_ca_path_is_accepted(storage_system, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert StorageClient([storage_system("c1", ca_path=str(bundle))])
