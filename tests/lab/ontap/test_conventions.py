"""ONTAP-wide REST conventions: envelopes, fields, filters, pagination, errors, auth, routing, jobs, faults."""
from __future__ import annotations

import pytest
import requests
from netapp_ontap import config
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import Cluster, Job, Lun, Snapshot, Volume


@pytest.fixture
def http(ontap_lab):
    session = requests.Session()
    session.auth, session.verify = ontap_lab.credentials(), str(ontap_lab.ca)
    base = ontap_lab.url()
    yield lambda method, path, **kw: session.request(method, base + path, **kw)
    session.close()


def test_cluster_reports_the_version_persona(conn, ontap_lab):
    ontap_lab.cluster().version = "9.16.1"
    cluster = Cluster()
    cluster.get(fields="version")
    assert (cluster.version.generation, cluster.version.major, cluster.version.minor) == (9, 16, 1)
    assert cluster.name == "cluster-a"


def test_collection_default_fields_are_identity_and_links(http):
    body = http("GET", "/api/storage/volumes").json()
    assert body["num_records"] == 2
    assert set(body["records"][0]) == {"uuid", "name", "_links"}
    assert body["_links"]["self"]["href"] == "/api/storage/volumes"


def test_fields_select_subsets_and_keep_identity(http):
    body = http("GET", "/api/storage/volumes?name=vol1&fields=space.size,svm.name").json()
    record = body["records"][0]
    assert set(record) == {"uuid", "name", "space", "svm", "_links"}
    assert record["space"] == {"size": 100 * 1024 ** 3}
    assert record["svm"] == {"name": "svm1"}


def test_expensive_fields_need_double_star(http):
    cheap = http("GET", "/api/storage/volumes?name=vol1&fields=*").json()["records"][0]
    everything = http("GET", "/api/storage/volumes?name=vol1&fields=**").json()["records"][0]
    assert "clone" not in cheap and everything["clone"]["is_flexclone"] is False
    instance = http("GET", cheap["_links"]["self"]["href"]).json()
    assert instance["uuid"] == cheap["uuid"] and "space" in instance and "clone" not in instance


@pytest.mark.parametrize("query, expected", [
    ("name=vol1", ["vol1"]),
    ("name=vol*", ["vol1", "vol2"]),
    ("name=vol1|vol2", ["vol1", "vol2"]),
    ("name=!vol1", ["vol2"]),
    ("svm.name=svm1&name=vol2", ["vol2"]),
    ("name=%2A2", ["vol2"]),  # the client percent-encodes '*'
    ("snapshot_count=>0", []),
    ("snapshot_count=<=0", ["vol1", "vol2"]),
    ("nas.path=null", ["vol1", "vol2"]),
    ("nas.path=!null", []),
    ("clone.is_flexclone=false", ["vol1", "vol2"]),
    ("name=nothing", []),
])
def test_query_filters(http, query, expected):
    response = http("GET", f"/api/storage/volumes?{query}")
    assert response.status_code == 200
    assert sorted(r["name"] for r in response.json()["records"]) == expected


def test_filters_reach_into_arrays(http):
    body = http("GET", "/api/protocols/san/igroups?initiators.name=iqn.1991-05.com.microsoft:hv-host1").json()
    assert [r["name"] for r in body["records"]] == ["hv-host1"]


def test_pagination_next_link_repeats_the_query(http, conn, ontap_lab):
    cluster = ontap_lab.cluster()
    for i in range(7):
        cluster.create_snapshot("vol1", f"hourly.{i}")
    vol = cluster.volume("vol1")
    first = http("GET", f"/api/storage/volumes/{vol.uuid}/snapshots?name=hourly*&max_records=3&fields=name").json()
    assert first["num_records"] == 3
    next_href = first["_links"]["next"]["href"]
    assert "name=hourly%2A" in next_href or "name=hourly*" in next_href
    assert "fields=name" in next_href and "max_records=3" in next_href
    # netapp-ontap follows the next link verbatim, with no parameters of its own.
    names = [s.name for s in Snapshot.get_collection(vol.uuid, max_records=3, name="hourly*")]
    assert names == [f"hourly.{i}" for i in range(7)]
    assert Snapshot.count_collection(vol.uuid, name="hourly*") == 7


def test_return_records_false_counts_only(http):
    body = http("GET", "/api/storage/volumes?return_records=false").json()
    assert body["num_records"] == 2 and "records" not in body


def test_order_by(http):
    body = http("GET", "/api/storage/luns?order_by=space.size desc,name&fields=space.size").json()
    assert [r["name"] for r in body["records"]] == ["/vol/vol1/lun1", "/vol/vol1/lun2", "/vol/vol2/lun3"]


def test_routing_tolerates_slashes_and_encoding(http):
    assert http("GET", "/api//storage/volumes/?name=vol1").json()["num_records"] == 1
    assert http("GET", "/api/storage/volumes?name=vol+1|vol1").json()["num_records"] == 1


def test_unknown_uuid_is_404_code_4(conn):
    with pytest.raises(NetAppRestError) as err:
        Volume(uuid="00000000-0000-0000-0000-000000000000").get()
    assert err.value.status_code == 404
    assert err.value.response_body["error"]["code"] == "4"
    with pytest.raises(NetAppRestError) as err:
        Snapshot("00000000-0000-0000-0000-000000000000", uuid="x").get()
    assert err.value.response_body["error"]["code"] == "4"


def test_unknown_api_is_404(http):
    response = http("GET", "/api/storage/nothing")
    assert response.status_code == 404 and "error" in response.json()


def test_bad_password_is_401_with_error_body(ontap_lab):
    user = ontap_lab.credentials()[0]
    response = requests.get(ontap_lab.url() + "/api/cluster", auth=(user, "wrong"), verify=str(ontap_lab.ca))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User is not authorized."


def test_missing_required_field_is_400(http):
    response = http("POST", "/api/storage/volumes", json={"svm": {"name": "svm1"}})
    assert response.status_code == 400 and response.json()["error"]["target"] == "name"


def test_async_reply_codes_follow_return_timeout(http, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    quick = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots", json={"name": "a"})
    assert quick.status_code == 202 and quick.headers["Location"].endswith("/snapshots/?name=a")
    waited = http("POST", f"/api/storage/volumes/{vol.uuid}/snapshots?return_timeout=15", json={"name": "b"})
    assert waited.status_code == 201
    href = waited.json()["job"]["_links"]["self"]["href"]
    assert http("GET", href + "?fields=message,state").json()["state"] == "success"
    job = http("GET", href).json()
    assert job["description"] == f"POST /api/storage/volumes/{vol.uuid}/snapshots"


def test_slow_jobs_run_after_n_polls(conn, ontap_lab):
    cluster = ontap_lab.cluster()
    cluster.job_polls = 2
    vol = cluster.volume("vol1")
    url = f"{ontap_lab.url()}/api/storage/volumes/{vol.uuid}/snapshots"
    response = conn.session.post(url, json={"name": "slow"})
    href = response.json()["job"]["_links"]["self"]["href"]
    states = [conn.session.get(ontap_lab.url() + href).json()["state"] for poll in range(3)]
    assert states == ["running", "running", "success"]
    assert vol.has_snapshot("slow")


def test_collection_patch_needs_a_filter_and_returns_jobs(conn, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    with pytest.raises(NetAppRestError) as err:
        Volume.patch_collection({"comment": "x"})
    assert err.value.status_code == 400
    response = Volume.patch_collection({"comment": "tagged"}, name="vol*")
    assert response.http_response.json()["num_records"] == 2
    assert vol.comment == "tagged"


def test_injected_http_error_then_recovery(conn, ontap_lab):
    ontap_lab.faults.add("ontap", "http_error", match={"method": "GET", "path": "/api/storage/luns"},
                         nth=2, params={"status": 503, "code": "2", "message": "temporarily locked"})
    assert len(list(Lun.get_collection())) == 3
    with pytest.raises(NetAppRestError) as err:
        list(Lun.get_collection())
    assert err.value.status_code == 503 and err.value.response_body["error"]["message"] == "temporarily locked"
    assert len(list(Lun.get_collection())) == 3


def test_injected_job_failure_leaves_state_alone(conn, ontap_lab):
    vol = ontap_lab.cluster().volume("vol1")
    ontap_lab.faults.add("ontap", "job_failure", match={"method": "POST", "path": ".*/snapshots"},
                         params={"code": 1638417, "message": "Injected snapshot failure"})
    snap = Snapshot(vol.uuid, name="doomed")
    with pytest.raises(NetAppRestError, match="Injected snapshot failure"):
        snap.post()
    assert not vol.has_snapshot("doomed")
    failed = [j for j in ontap_lab.cluster().jobs.values() if j.state == "failure"]
    job = Job(uuid=failed[0].uuid)
    job.get()
    assert job.code == 1638417 and isinstance(job.code, int)


def test_injected_drop_closes_the_connection(http, ontap_lab):
    ontap_lab.faults.add("ontap", "drop", match={"path": "/api/cluster"})
    with pytest.raises(requests.ConnectionError):
        http("GET", "/api/cluster")
    assert http("GET", "/api/cluster").status_code == 200


def test_latency_applies_to_every_call(http, ontap_lab):
    import time
    ontap_lab.faults.set_latency("ontap", 0.05)
    start = time.monotonic()
    for attempt in range(3):
        http("GET", "/api/cluster")
    assert time.monotonic() - start >= 0.15


def test_errors_can_be_returned_instead_of_raised(conn):
    config.RAISE_API_ERRORS = False
    try:
        response = Volume(uuid="missing").get()
        assert response.is_err and response.http_response.status_code == 404
    finally:
        config.RAISE_API_ERRORS = True
