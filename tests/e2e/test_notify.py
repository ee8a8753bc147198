"""Notifications end to end (docs/user-guide.md, "Notifications"): backup_now.yml and protect.yml run by ansible-playbook
against the lab report each backup through a real SMTP server (aiosmtpd, STARTTLS and a login, two recipients) and a
real HTTP receiver, at the policy's level, and log to ONTAP's EMS, read back with netapp-ontap. A scheduled backup that
fails at its snapshot (an injected ONTAP error) is reported with its step, error code, VMs and the newest good backup's
age, and smhv_backup_info lists the failed attempt with its reason; check mode sends nothing and shows what it would send."""
from __future__ import annotations

import datetime
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from netapp_ontap import HostConnection
from netapp_ontap.resources import EmsEvent

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Policy
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_backup_info
from e2e.backup_support import LabSite
from lab_fixture import REPO_ROOT, ansible_env
from smhv_lab import tls

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-file01", "vm-file02"]
LOGIN = ("smhv@example.com", "s3cret")
RECIPIENTS = ["backup-admins@example.com", "oncall@example.com"]
SNAPSHOT_REFUSED = {"target": "ontap", "kind": "http_error", "match": {"method": "POST", "path": ".*/snapshots"},
                    "params": {"status": 500, "code": 13, "message": "Injected: the aggregate is out of space"}}


class Mailbox:
    """aiosmtpd handler: every message with whether it came over TLS and after a login."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "tls": session.ssl is not None,
                              "login": session.authenticated, "mail": message_from_bytes(envelope.content, policy=default_policy)})
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login.decode(), auth_data.password.decode()) == LOGIN)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    certificates = tls.ensure_certificates(tmp_path_factory.mktemp("smtp-tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificates["cert"]), str(certificates["key"]))
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticate)
    controller.start()
    yield mailbox, controller.port, certificates["ca_cert"]
    controller.stop()


@pytest.fixture(scope="module")
def webhook():
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's hook name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "type": self.headers["Content-Type"], "token": self.headers.get("Authorization"),
                             "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, server.server_address[1]
    server.shutdown()
    server.server_close()


def playbook(lab, folder, notify_vars, name, *extra):
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory),
                           str(REPO_ROOT / "playbooks" / name), "-e", "@" + str(notify_vars), *extra],
                          env=ansible_env(folder, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"), capture_output=True, text=True,
                          timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def runs(lab, smtp, webhook, tmp_path_factory):
    """A good backup_now.yml backup (policy daily, level on_error: no e-mail, but EMS logs every run), a protect.yml run
    whose due backup (policy hourly) has its snapshot refused by ONTAP, and a check-mode run at level always; what
    arrived after each."""
    mailbox, smtp_port, ca_path = smtp
    hooks, hook_port = webhook
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "files", VMS)
    now = datetime.datetime.now(datetime.timezone.utc)
    with site.session("hv03") as session:  # hourly's slot is half an hour away and it was created before its last one: due
        catalog = site.catalog(session, SNAPINFO)
        catalog.put_policy(Policy("files", "daily", "daily", retention_count=7, notify="on_error"))
        catalog.put_policy(Policy("files", "hourly", "hourly", retention_count=3, schedule={"frequency": "hourly", "minute": (now.minute + 30) % 60},
                                  created=now - datetime.timedelta(hours=5)))
    folder = tmp_path_factory.mktemp("notify")
    notify_vars = folder / "notify.yml"
    notify_vars.write_text(yaml.safe_dump({
        "smhv_notify_smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "starttls", "username": LOGIN[0], "password": LOGIN[1],
                             "sender": "smhv@example.com", "to": RECIPIENTS, "ca_path": str(ca_path)},
        "smhv_notify_webhook": {"url": "http://127.0.0.1:%d/smhv" % hook_port, "headers": {"Authorization": "Bearer t0ken"}},
        "smhv_notify_ems": {"level": "always"}}))
    seen = {}
    backup_now = ("backup_now.yml", "-e", "smhv_scope=hv03 smhv_dataset=files smhv_policy=daily")
    seen["good"] = playbook(lab, folder, notify_vars, *backup_now)
    seen["after_good"] = (len(mailbox.messages), len(hooks))
    lab.control("POST", "/faults", SNAPSHOT_REFUSED)
    seen["failed"] = playbook(lab, folder, notify_vars, "protect.yml", "-e", "smhv_scopes=hv03")
    seen["after_failed"] = (len(mailbox.messages), len(hooks))
    lab.control("DELETE", "/faults")
    seen["check"] = playbook(lab, folder, notify_vars, *backup_now, "--check", "-e", "smhv_notify_level=always")
    seen["after_check"] = (len(mailbox.messages), len(hooks))
    endpoint = lab.endpoints["ontap"]["cluster-a"]
    with pytest.MonkeyPatch.context() as patch:  # requests prefers REQUESTS_CA_BUNDLE to a session's own verify
        patch.setenv("REQUESTS_CA_BUNDLE", lab.endpoints["ca_path"])
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        with HostConnection(endpoint["host"], port=endpoint["port"], username=endpoint["username"], password=endpoint["password"],
                            verify=lab.endpoints["ca_path"]):
            seen["ems"] = [(event.message.name, {p.name: p.value for p in event.parameters})
                           for event in EmsEvent.get_collection(**{"message.name": "app.log.*"}, fields="message,parameters")]
    listed = smhv_backup_info.run(dict(site.common, hyperv_host="hv03", gather=["backups"], dataset="files", vm=None, backup_type=None,
                                       status=None, retention_tag=None, since=None, until=None, backup_details=False, due_at=None), False)
    seen["listed"] = listed["backups"]
    return seen, mailbox.messages, hooks


def test_a_good_backup_at_level_on_error_sends_nothing_but_ems_logs_it(runs):
    seen, _messages, _hooks = runs
    assert seen["good"][0] == 0, seen["good"][1][-6000:]
    assert seen["after_good"] == (0, 0)
    name, params = seen["ems"][0]
    assert name == "app.log.notice" and params["eventSource"] == "netapp_hyperv.smhv" and params["eventID"] == "1001"
    assert re.fullmatch(r"SMHV backup files_\S+ of dataset files \(policy daily\) on hv03 succeeded", params["subject"])


def test_a_failed_scheduled_backup_is_mailed_over_starttls_with_a_login_to_every_recipient(runs):
    seen, messages, _hooks = runs
    assert seen["failed"][0] != 0, seen["failed"][1][-6000:]
    assert seen["after_failed"][0] == 1
    (message,) = messages
    assert message["tls"] is True and message["login"] is True
    assert message["to"] == RECIPIENTS and message["from"] == "smhv@example.com"
    mail = message["mail"]
    assert re.fullmatch(r"\[SMHV\] ERROR: backup files_\S+ of dataset files \(policy hourly\) on hv03 failed at step snapshot "
                        r"\(STORAGE_ERROR\)", mail["Subject"]), mail["Subject"]
    body = mail.get_content()
    good = seen["listed"][0]["name"]
    for text in ("Scope:     hv03", "Dataset:   files", "Policy:    hourly", "Failed at step: snapshot", "Error code:     STORAGE_ERROR",
                 "aggregate is out of space", "vm-file01", "vm-file02", "Newest good backup: %s, " % good):
        assert text in body, body


def test_the_webhook_gets_the_report_as_json(runs):
    seen, _messages, hooks = runs
    assert seen["after_failed"][1] == 1
    (hook,) = hooks
    assert hook["path"] == "/smhv" and hook["type"] == "application/json" and hook["token"] == "Bearer t0ken"
    report = hook["json"]
    assert (report["status"], report["scope"], report["dataset"], report["policy"]) == ("error", "hv03", "files", "hourly")
    assert report["failure"]["step"] == "snapshot" and report["failure"]["error_code"] == "STORAGE_ERROR"
    assert sorted(vm["name"] for vm in report["vms"]) == VMS and all(vm["outcome"] == "online" for vm in report["vms"])
    newest = report["newest_good_backup"]
    assert newest["name"] == seen["listed"][0]["name"] and 0 <= newest["age_seconds"] < 600
    assert report["backup"] == seen["listed"][1]["name"]


def test_the_failure_is_logged_to_ems_as_an_error(runs):
    seen, _messages, _hooks = runs
    assert [name for name, _params in seen["ems"]] == ["app.log.notice", "app.log.err"]
    params = seen["ems"][1][1]
    assert params["eventID"] == "1003" and params["category"] == "backup"
    assert "failed at step snapshot (STORAGE_ERROR)" in params["subject"]


def test_backup_info_lists_the_failed_attempt_with_its_reason(runs):
    seen, _messages, _hooks = runs
    good, failed = seen["listed"]
    assert good["status"] == "ok" and "failed_step" not in good
    assert failed["status"] == "failed" and failed["failed_step"] == "snapshot" and failed["error_code"] == "STORAGE_ERROR"
    assert "aggregate is out of space" in failed["error"]


def test_check_mode_sends_nothing_and_says_what_it_would_send(runs):
    seen, _messages, _hooks = runs
    code, output = seen["check"]
    assert code == 0, output[-6000:]
    assert seen["after_check"] == seen["after_failed"]
    assert len(seen["ems"]) == 2  # read after the check-mode run: nothing logged by it
    assert "Check mode: backup files_" in output and "would send:" in output
    assert re.search(r"send e-mail '+\[SMHV\] OK: backup files_\S+ of dataset files \(policy\s+daily\) on hv03 planned", output), output[-6000:]
    assert "POST the report as JSON to http://127.0.0.1:" in output and "log EMS event backup (notice, event_id 1001) on cluster-a" in output
