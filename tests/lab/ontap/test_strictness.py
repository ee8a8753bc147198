"""The simulator refuses what ONTAP refuses, with ONTAP's error codes: fields its REST model does not have
(in a body or a query), read-only fields in a POST or PATCH, malformed requests and methods it does not
serve; and it keeps what na_ontap_lun and na_ontap_rest_info rely on (docs/lab.md, "How strict")."""
from __future__ import annotations

import base64
import json
import socket
import ssl

import pytest
import requests
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import Lun, Snapshot, Volume


@pytest.fixture
def http(ontap_lab):
    session = requests.Session()
    session.auth, session.verify = ontap_lab.credentials(), str(ontap_lab.ca)
    base = ontap_lab.url()
    yield lambda method, path, **kw: session.request(method, base + path, **kw)
    session.close()


def ontap_error(response: requests.Response) -> dict:
    assert response.headers["Content-Type"] == "application/hal+json"
    return response.json()["error"]


def raw_exchange(ontap_lab, request: bytes, timeout: float = 5) -> bytes:
    """One request on its own TLS connection, read until the server closes it (or `timeout`)."""
    context = ssl.create_default_context(cafile=str(ontap_lab.ca))
    with socket.create_connection(("127.0.0.1", ontap_lab.servers["cluster-a"].port), timeout=timeout) as plain:
        with context.wrap_socket(plain, server_hostname="127.0.0.1") as conn:
            conn.sendall(request)
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
    return received


def auth_header(ontap_lab) -> bytes:
    return b"Authorization: Basic " + base64.b64encode(":".join(ontap_lab.credentials()).encode())


# -- fields the model does not have, read-only fields --------------------------------------------
def test_unknown_body_fields_are_unexpected_arguments(http, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    posted = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots", json={"name": "s1", "colour": "red"})
    assert posted.status_code == 400
    assert ontap_error(posted) == {"message": 'Unexpected argument "colour".', "code": "262179", "target": "colour"}
    nested = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots", json={"name": "s1", "svm": {"nmae": "svm1"}})
    assert ontap_error(nested)["target"] == "svm.nmae"
    assert not vol.has_snapshot("s1")


def test_unknown_patch_field_through_netapp_ontap(conn, ontap_lab):
    with pytest.raises(NetAppRestError) as caught:
        Volume.patch_collection({"colour": "red"}, name="vol1")
    assert caught.value.status_code == 400
    assert caught.value.response_body["error"]["code"] == "262179"
    assert caught.value.response_body["error"]["target"] == "colour"


def test_read_only_fields_cannot_be_set(conn, http, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    with pytest.raises(NetAppRestError) as caught:
        Volume.patch_collection({"uuid": "00000000-0000-0000-0000-000000000000"}, name="vol1")
    assert caught.value.status_code == 400
    assert caught.value.response_body["error"] == {
        "message": 'Field "uuid" cannot be set in this operation.', "code": "262196", "target": "uuid"}
    lun = ontap_lab.cluster().lun("/vol/vol1/lun1")
    reserved = http("PATCH", f"/api/storage/luns/{lun.uuid}", json={"space": {"guarantee": {"reserved": True}}})
    assert ontap_error(reserved)["code"] == "262196" and ontap_error(reserved)["target"] == "space.guarantee.reserved"
    created = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots",
                   json={"name": "s1", "create_time": "2026-01-01T00:00:00+00:00"})
    assert ontap_error(created)["code"] == "262196" and ontap_error(created)["target"] == "create_time"
    assert vol.uuid != "00000000-0000-0000-0000-000000000000" and not vol.has_snapshot("s1")


def test_what_the_model_allows_still_goes_through(conn, ontap_lab):
    """Sub-fields a reference lists (svm.name), nested writable objects (space.guarantee.requested), and
    restore_to on a volume, which ONTAP documents but netapp-ontap's Volume model lacks."""
    vol = ontap_lab.cluster().volume("vol1")
    snap = Snapshot(vol.uuid, name="kept", svm={"name": "svm1"}, comment="c")
    snap.post()
    Volume.patch_collection({"restore_to.snapshot.name": "kept"}, uuid=vol.uuid)
    lun = Lun(uuid=ontap_lab.cluster().lun("/vol/vol1/lun1").uuid)
    lun.space = {"guarantee": {"requested": True}}
    lun.patch()
    assert ontap_lab.cluster().lun("/vol/vol1/lun1").space_reserved


def test_unknown_query_fields_are_refused(conn, http):
    response = http("GET", "/api/storage/volumes?colour=red")
    assert response.status_code == 400
    assert ontap_error(response) == {"message": 'Unexpected argument "colour".', "code": "262179", "target": "colour"}
    with pytest.raises(NetAppRestError) as caught:
        list(Volume.get_collection(**{"svm.nmae": "svm1"}))
    assert caught.value.response_body["error"]["target"] == "svm.nmae"
    assert http("GET", "/api/storage/volumes?svm.name=svm1&space.snapshot.reserve_percent=>=0").status_code == 200
    fields = http("GET", "/api/storage/volumes?fields=name,colour")
    assert ontap_error(fields) == {"message": 'The value "colour" is invalid for field "fields"', "code": "262197",
                                   "target": "fields"}


def test_post_query_parameters_and_return_timeout_limits(http, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    filtered = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots?name=s1", json={"name": "s1"})
    assert ontap_error(filtered)["code"] == "262211"
    too_long = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots?return_timeout=600", json={"name": "s1"})
    assert ontap_error(too_long) == {"message": 'The value "600" is invalid for field "return_timeout" (<0..120>)',
                                     "code": "262197", "target": "return_timeout"}
    assert not vol.has_snapshot("s1")


# -- malformed requests and methods ----------------------------------------------------------------
def test_deeply_nested_json_is_a_json_error_on_a_live_connection(http, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    deep = "[" * 20000 + "]" * 20000
    response = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots", data=deep,
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and ontap_error(response)["code"] == "262199"
    broken = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots", data='{"name": ',
                  headers={"Content-Type": "application/json"})
    assert ontap_error(broken)["code"] == "262199" and "line 1" in ontap_error(broken)["message"]
    assert http("GET", "/api/cluster").status_code == 200  # the same keep-alive connection still serves


@pytest.mark.parametrize("length", [b"abc", b"-1"])
def test_a_bad_content_length_is_answered_not_dropped(ontap_lab, length):
    request = (b"POST /api/storage/volumes HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_header(ontap_lab) +
               b"\r\nContent-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n{}")
    answer = raw_exchange(ontap_lab, request)  # a hang would time out here, a drop would answer nothing
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["error"]["message"] == f'Invalid Content-Length header "{length.decode()}".'


@pytest.mark.parametrize("method", ["PUT", "OPTIONS"])
def test_methods_ontap_does_not_serve_are_405_json(http, method):
    response = http(method, "/api/storage/volumes", json={})
    assert response.status_code == 405
    assert ontap_error(response)["code"] == "3"
    assert response.headers["Allow"] == "GET, POST, PATCH, DELETE"


# -- what clients rely on ---------------------------------------------------------------------------
def test_lun_space_guarantee_is_kept_and_reported(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    thick = Lun(svm={"name": "svm1"}, name="/vol/vol1/thick", os_type="hyper_v", space={
        "size": 1024 ** 3, "guarantee": {"requested": True}})
    thick.post()
    thin = Lun(svm={"name": "svm1"}, name="/vol/vol1/thin", os_type="hyper_v", space={"size": 1024 ** 3})
    thin.post()
    records = {r.name: r.space.guarantee.to_dict()
               for r in Lun.get_collection(fields="space.guarantee", **{"location.volume.name": "vol1"})}
    assert records["/vol/vol1/thick"] == {"requested": True, "reserved": True}
    assert records["/vol/vol1/thin"] == {"requested": False, "reserved": False}
    cluster.volume("vol1").guarantee = "none"  # a thin volume cannot honour a LUN's reservation
    thick.get(fields="space.guarantee")
    assert thick.space.guarantee.to_dict() == {"requested": True, "reserved": False}


@pytest.mark.parametrize("path,names", [
    ("/api/cluster/peers", ["cluster-b"]),
    ("/api/cluster/schedules", ["5min", "8hour", "daily", "hourly", "monthly", "weekly"]),
    ("/api/storage/snapshot-policies", ["default", "default-1weekly", "none"]),
    ("/api/network/ipspaces", ["Cluster", "Default"]),
])
def test_configuration_collections_answer_with_data(http, path, names):
    body = http("GET", path + "?fields=*").json()
    assert sorted(record["name"] for record in body["records"]) == names
    first = body["records"][0]
    assert http("GET", first["_links"]["self"]["href"]).json()["uuid"] == first["uuid"]
