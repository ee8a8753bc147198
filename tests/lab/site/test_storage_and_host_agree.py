"""What ONTAP holds and what a host sees are one thing: a snapshot taken over REST and the files a
host reads over WinRM agree before and after a SnapRestore (the real clients on both sides)."""
from __future__ import annotations

import pytest
from netapp_ontap import HostConnection
from netapp_ontap.resources import Snapshot, Volume

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import HostClient

NOTE = "J:\\vm-file01\\notes.txt"
LATER = "J:\\written-after-the-snapshot.txt"


@pytest.fixture
def sides(lab, monkeypatch):
    lab.reset()
    endpoints = lab.endpoints
    # requests lets REQUESTS_CA_BUNDLE override a session's verify; point it at the lab CA too.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", endpoints["ca_path"])
    ontap = endpoints["ontap"]["cluster-a"]
    connection = HostConnection(ontap["host"], port=ontap["port"], username=ontap["username"],
                                password=ontap["password"], verify=endpoints["ca_path"])
    host = endpoints["hosts"]["hv03"]
    winrm = {"username": host["username"], "password": host["password"], "ca_path": endpoints["ca_path"],
             "auth": "ntlm"}
    client = HostClient("hv03", winrm, {"hv03": f"{host['address']}:{host['https_port']}"})
    yield connection, client
    client.close()
    lab.reset()


def _read(client, path):
    answer = client.call("file_read", {"paths": [path], "missing_ok": True}).result["files"][0]
    return answer["content"] if answer["exists"] else None


def test_snaprestore_brings_back_what_the_host_saw_at_snapshot_time(sides, lab):
    connection, client = sides
    client.call("file_write", {"path": NOTE, "content": "before the snapshot"})
    with connection:
        volume = Volume.find(name="vol_hv03", **{"svm.name": "svm_hv"})
        Snapshot(volume.uuid, name="agreement").post()
    client.call("file_write", {"path": NOTE, "content": "after the snapshot"})
    client.call("file_write", {"path": LATER, "content": "new"})
    assert _read(client, NOTE) == "after the snapshot"

    snapshots = lab.state()["ontap"]["cluster-a"]["volumes"]["vol_hv03"]["snapshots"]
    assert "agreement" in snapshots
    with connection:
        Volume.patch_collection({"restore_to.snapshot.name": "agreement"}, uuid=volume.uuid)

    assert _read(client, NOTE) == "before the snapshot"
    assert _read(client, LATER) is None
    listed = {e["name"] for e in client.call("file_list", {"path": "J:\\"}).result["entries"]}
    assert "written-after-the-snapshot.txt" not in listed and "vm-file01" in listed


def test_a_lun_on_another_volume_is_untouched_by_the_restore(sides):
    connection, client = sides
    client.call("file_write", {"path": "L:\\marker.txt", "content": "sql volume"})
    with connection:
        volume = Volume.find(name="vol_hv03", **{"svm.name": "svm_hv"})
        Snapshot(volume.uuid, name="scoped").post()
        Volume.patch_collection({"restore_to.snapshot.name": "scoped"}, uuid=volume.uuid)
    assert _read(client, "L:\\marker.txt") == "sql volume"
