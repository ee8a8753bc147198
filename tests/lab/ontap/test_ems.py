"""EMS in the ONTAP simulator: an application logs an event with POST /api/support/ems/application-logs (the eight
fields ONTAP requires, nothing else), and it is read back from /api/support/ems/events with netapp-ontap, as
app.log.<severity> (and callhome.client.app.<severity> when an AutoSupport is asked for)."""
from __future__ import annotations

import pytest
import requests
from netapp_ontap.resources import EmsApplicationLog, EmsEvent

EVENT = {"computer_name": "ansible-controller", "event_source": "netapp_hyperv.smhv", "app_version": "1.0.0", "event_id": 2,
         "category": "backup", "event_description": "Backup web_12-06-2026_02.00.00 of dataset web failed", "severity": "error",
         "autosupport_required": False}


@pytest.fixture
def http(ontap_lab):
    session = requests.Session()
    session.auth, session.verify = ontap_lab.credentials(), str(ontap_lab.ca)
    yield lambda method, path, **kw: session.request(method, ontap_lab.url() + path, **kw)
    session.close()


def test_an_application_log_is_read_back_as_an_app_log_event(conn):
    EmsApplicationLog(**EVENT).post()
    EmsApplicationLog(**dict(EVENT, severity="notice", event_id=1, autosupport_required=True, event_description="ok")).post()
    events = list(EmsEvent.get_collection(**{"message.name": "app.log.*"}, fields="message,log_message,parameters,time"))
    assert [(e.message.name, e.message.severity) for e in events] == [("app.log.err", "error"), ("app.log.notice", "notice")]
    params = {p.name: p.value for p in events[0].parameters}
    assert params["subject"] == EVENT["event_description"] and params["eventSource"] == "netapp_hyperv.smhv"
    assert params["computerName"] == "ansible-controller" and params["eventID"] == "2"
    assert "failed" in events[0].log_message
    callhome = list(EmsEvent.get_collection(**{"message.name": "callhome.client.app.*"}))
    assert len(callhome) == 1  # only the event that asked for an AutoSupport


@pytest.mark.parametrize("body, target", [
    ({k: v for k, v in EVENT.items() if k != "app_version"}, "app_version"),
    ({k: v for k, v in EVENT.items() if k != "autosupport_required"}, "autosupport_required"),
    (dict(EVENT, severity="warning"), "severity"),
    (dict(EVENT, dataset="web"), "dataset"),
    (dict(EVENT, event_id="two"), "event_id"),
])
def test_what_ontap_refuses_is_refused(http, ontap_lab, body, target):
    answer = http("POST", "/api/support/ems/application-logs", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["target"] == target
    assert ontap_lab.cluster().ems_events == []


def test_application_logs_only_take_post_and_events_take_no_post(http):
    assert http("GET", "/api/support/ems/application-logs").status_code == 405
    assert http("POST", "/api/support/ems/events", json={"log_message": "x"}).status_code in (400, 405)
