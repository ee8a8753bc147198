"""smhv_notify's deliveries without the lab: a channel that fails does not stop the others, and the task then fails with
NOTIFICATION_FAILED saying what was sent (a real HTTP receiver; the SMTP port has nobody listening)."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.notify.run import notify
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

RESULT = {"failed": True, "msg": "Failover of hv03 to hvdr01 failed in phase break: ONTAP said no.", "error_code": "STORAGE_ERROR",
          "error_details": {"phase": "break"}, "dr_host": "hvdr01"}


@pytest.fixture
def receiver():
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's hook name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield received, "http://127.0.0.1:%d/hook" % server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def params(url, **extra):
    base = {"result": RESULT, "operation": "failover", "hyperv_host": None, "dataset": None, "policy": None, "level": None,
            "winrm": None, "host_addresses": {}, "storage_systems": [],
            "ems": {"level": "never", "autosupport": False, "clusters": None, "computer_name": None},
            "smtp": {"host": "127.0.0.1", "port": closed_port(), "security": "none", "username": None, "password": None,
                     "sender": "smhv@example.com", "to": ["a@example.com"], "cc": None, "validate_certs": True, "ca_path": None, "timeout": 5},
            "webhook": {"url": url, "headers": None, "validate_certs": True, "ca_path": None, "timeout": 5}}
    base.update(extra)
    return base


def test_a_failed_channel_fails_the_task_after_the_others_were_delivered(receiver):
    received, url = receiver
    with pytest.raises(SmhvError) as failed:
        notify(params(url), check_mode=False)
    assert failed.value.code == "NOTIFICATION_FAILED"
    assert "E-mail through 127.0.0.1" in failed.value.message and "Delivered: webhook." in failed.value.message
    sent = {d["channel"]: d["sent"] for d in failed.value.details["notifications"]}
    assert sent == {"email": False, "webhook": True}
    (report,) = received
    assert report["operation"] == "failover" and report["scope"] == "hvdr01"
    assert report["failure"] == {"step": "break", "error_code": "STORAGE_ERROR", "message": RESULT["msg"]}


def test_check_mode_and_level_never_send_nothing(receiver):
    received, url = receiver
    planned = notify(params(url), check_mode=True)
    assert [d["channel"] for d in planned["notifications"]] == ["email", "webhook"] and not any(d["sent"] for d in planned["notifications"])
    assert planned["changed"] is False and planned["report"]["planned"] is True
    quiet = notify(params(url, level="never"), check_mode=False)
    assert quiet["notifications"] == [] and quiet["status"] == "error"
    assert received == []
